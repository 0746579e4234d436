/* tdsc on Windows: terminal checks through the C runtime; no password
 * prompt and no elapsed-time indicator (term_posix.c, progress_posix.c
 * have them on POSIX). */
#include "config.h"

#include "tdsc.h"

#include <io.h>
#include <stdio.h>

bool stdin_is_terminal(void) { return _isatty(_fileno(stdin)); }
bool isatty_stderr(void) { return _isatty(_fileno(stderr)); }

char *prompt_password(const char *user) {
  (void)user;
  return NULL;
}

void progress_init(bool on) { (void)on; }
void progress_start(void) {}
void progress_stop(void) {}
void progress_shutdown(void) {}
