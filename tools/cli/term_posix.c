/* tdsc on POSIX: whether input and error output are terminals, and the
 * password prompt (no echo, on the controlling terminal).  Windows has
 * term_win32.c. */
#include "config.h"

#include "tdsc.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

bool stdin_is_terminal(void) { return isatty(STDIN_FILENO); }
bool isatty_stderr(void) { return isatty(STDERR_FILENO); }

char *prompt_password(const char *user) {
  int fd = open("/dev/tty", O_RDWR | O_NOCTTY);
  struct termios old, quiet;
  strbuf pw = {0};
  char ch;
  (void)user;
  if (fd < 0)
    return NULL;
  if (tcgetattr(fd, &old) != 0) {
    close(fd);
    return NULL;
  }
  quiet = old;
  quiet.c_lflag &= ~(tcflag_t)ECHO;
  quiet.c_lflag |= ECHONL;
  /* echo off before the prompt: a password typed as soon as the prompt
   * shows is never echoed (and TCSADRAIN keeps what was typed ahead) */
  tcsetattr(fd, TCSADRAIN, &quiet);
  (void)!write(fd, "Password: ", 10);
  sb_puts(&pw, "");
  while (read(fd, &ch, 1) == 1 && ch != '\n' && ch != '\r')
    sb_putc(&pw, ch);
  tcsetattr(fd, TCSADRAIN, &old);
  close(fd);
  return pw.s;
}
