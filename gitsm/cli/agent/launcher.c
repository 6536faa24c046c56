/* gitsm's native launcher: hand a command line to the running agent without starting Python.
 *
 * The same hand-over as gitsm/cli/agent/launcher.py (the protocol is described there), for the
 * common case only: a UTF-8 locale (or the C locale, which Python makes one), no
 * PYTHONIOENCODING, PYTHONUTF8 or PYTHONCOERCECLOCALE, standard streams open, an agent of this
 * user answering in its private directory. In every other case, and whenever
 * the agent declines or goes away before it runs the command, this program runs the Python
 * launcher instead (GITSM_PYTHON -P -c ...), with the same arguments, environment and streams:
 * that one decides, exactly as without this program. gitsm/cli/agent/native.py builds it with
 * the identity of the Python and gitsm it stands for (native_config.h), and
 * tests/cli/test_agent_native.py checks that both launchers describe a command alike.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <langinfo.h>
#include <locale.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "native_config.h" /* GITSM_PYTHON, GITSM_ID_*, GITSM_PROTOCOL, GITSM_CODE, GITSM_BUILD */

extern char **environ;

/* What native.py looks for to know that this build is current (source and configuration). */
__attribute__((used)) static const char BUILD[] = GITSM_BUILD;

static const char *const IN_PROCESS[] = {"agent", "serve", "exec", NULL};
static const char *const FORWARDED[] = {"SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT"};
static const int FORWARDED_NUM[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};

static const char *execfn;
static int ctype_set;          /* legacy_locale() set LC_CTYPE in the environment */
static char *ctype_before;     /* and what it was (NULL: not set) */
static volatile sig_atomic_t last_forwarded;
static volatile pid_t command_pid;

/* Run the Python launcher with this process's arguments (argv[0]: the path this one ran as). */
static void fallback(int argc, char **argv) {
    if (ctype_set) { /* Python coerces the locale itself, from the environment it was given */
        if (ctype_before) setenv("LC_CTYPE", ctype_before, 1);
        else unsetenv("LC_CTYPE");
    }
    char **args = calloc((size_t)argc + 5, sizeof(char *));
    if (args != NULL) {
        int n = 0;
        args[n++] = (char *)GITSM_PYTHON;
        args[n++] = "-P";
        args[n++] = "-c";
        args[n++] = (char *)GITSM_CODE;
        args[n++] = (char *)execfn;
        for (int i = 1; i < argc; i++) args[n++] = argv[i];
        args[n] = NULL;
        execv(GITSM_PYTHON, args);
    }
    fprintf(stderr, "gitsm: cannot run %s: %s\n", GITSM_PYTHON, strerror(errno));
    exit(127);
}

/* The request, marshalled as Python's marshal writes a dict (any valid encoding loads alike). */
typedef struct {
    char *data;
    size_t len, cap;
} Buf;

static int put(Buf *b, const void *data, size_t n) {
    if (n == 0) return 0; /* an empty str: data may be NULL */
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n) cap *= 2;
        char *grown = realloc(b->data, cap);
        if (grown == NULL) return -1;
        b->data = grown;
        b->cap = cap;
    }
    memcpy(b->data + b->len, data, n);
    b->len += n;
    return 0;
}

static int put_byte(Buf *b, char c) { return put(b, &c, 1); }

static int put_i32(Buf *b, int32_t v) {
    uint32_t u = (uint32_t)v;
    unsigned char raw[4] = {u & 0xFF, (u >> 8) & 0xFF, (u >> 16) & 0xFF, (u >> 24) & 0xFF};
    return put(b, raw, 4);
}

static int put_int(Buf *b, int32_t v) { return put_byte(b, 'i') || put_i32(b, v); }

/* The length of the valid UTF-8 sequence at s (n bytes left), 0 when it is not one (Python's
 * strict decoder: no overlong forms, no surrogates, nothing above U+10FFFF). */
static size_t utf8_len(const unsigned char *s, size_t n) {
    unsigned char c = s[0];
    if (c < 0x80) return 1;
    size_t need;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) need = 1;
    else if (c == 0xE0) need = 2, lo = 0xA0;
    else if (c >= 0xE1 && c <= 0xEC) need = 2;
    else if (c == 0xED) need = 2, hi = 0x9F;
    else if (c >= 0xEE && c <= 0xEF) need = 2;
    else if (c == 0xF0) need = 3, lo = 0x90;
    else if (c >= 0xF1 && c <= 0xF3) need = 3;
    else if (c == 0xF4) need = 3, hi = 0x8F;
    else return 0;
    if (n < need + 1 || s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i <= need; i++)
        if (s[i] < 0x80 || s[i] > 0xBF) return 0;
    return need + 1;
}

/* A str as Python decodes bytes from the system (UTF-8, surrogateescape), written as marshal
 * writes it (UTF-8, surrogatepass: an undecodable byte b is U+DC00+b). */
static int put_str(Buf *b, const char *s, size_t n) {
    Buf out = {0};
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        size_t k = utf8_len(u + i, n - i);
        if (k) {
            if (put(&out, u + i, k)) goto fail;
            i += k;
            continue;
        }
        unsigned int cp = 0xDC00 + u[i++];
        unsigned char esc[3] = {0xE0 | (cp >> 12), 0x80 | ((cp >> 6) & 0x3F), 0x80 | (cp & 0x3F)};
        if (put(&out, esc, 3)) goto fail;
    }
    int err = put_byte(b, 'u') || put_i32(b, (int32_t)out.len) || put(b, out.data, out.len);
    free(out.data);
    return err;
fail:
    free(out.data);
    return -1;
}

static int put_cstr(Buf *b, const char *s) { return put_str(b, s, strlen(s)); }

static int put_key(Buf *b, const char *key) { return put_cstr(b, key); }

/* The agent's directory, as gitsm/cli/agent/paths.py chooses it (caller frees). */
static char *agent_dir(void) {
    const char *chosen = getenv("GITSM_AGENT_DIR");
    char *out = NULL;
    if (chosen && *chosen) { /* Python takes its abspath: only a path that is one already */
        size_t n = strlen(chosen);
        if (chosen[0] != '/' || strstr(chosen, "//") || strstr(chosen, "/./") ||
            strstr(chosen, "/../") || (n > 1 && chosen[n - 1] == '/') ||
            (n >= 2 && !strcmp(chosen + n - 2, "/.")) || (n >= 3 && !strcmp(chosen + n - 3, "/..")))
            return NULL;
        return strdup(chosen);
    }
    const char *runtime = getenv("XDG_RUNTIME_DIR");
    if (runtime && *runtime) {
        if (asprintf(&out, "%s/gitsm", runtime) < 0) return NULL;
        return out;
    }
    if (asprintf(&out, "/tmp/gitsm-%u", (unsigned)getuid()) < 0) return NULL;
    return out;
}

/* True when path is this user's own directory with no access for group or others. */
static int private_dir(const char *path) {
    struct stat st;
    if (lstat(path, &st) != 0 || !S_ISDIR(st.st_mode)) return 0;
    return st.st_uid == getuid() && (st.st_mode & 077) == 0;
}

/* Set the locale as Python 3.11 does when it starts (PEP 538, PEP 540): the legacy C locale is
 * coerced to the first of C.UTF-8, C.utf8 and UTF-8 that exists, with LC_CTYPE set in the
 * environment (unless LC_ALL is set), and UTF-8 mode is on in the C and POSIX locales. 1 when
 * the standard input and output get the surrogateescape error handler (UTF-8 mode, or a
 * coercion target), 0 for strict, -1 when the encoding is not UTF-8 (left to Python). */
static int legacy_locale(void) {
    static const char *const TARGETS[] = {"C.UTF-8", "C.utf8", "UTF-8", NULL};
    const char *loc = setlocale(LC_CTYPE, "");
    if (loc == NULL) loc = setlocale(LC_CTYPE, NULL); /* an unknown locale: still C */
    if (loc == NULL) return -1;
    if (!strcmp(loc, "C") || !strcmp(loc, "POSIX")) {
        const char *all = getenv("LC_ALL");
        if (!strcmp(loc, "C") && !(all && *all)) {
            for (int i = 0; TARGETS[i]; i++) {
                if (setlocale(LC_CTYPE, TARGETS[i]) == NULL) continue;
                const char *codeset = nl_langinfo(CODESET);
                if (codeset == NULL || *codeset == '\0') {
                    setlocale(LC_CTYPE, "");
                    continue;
                }
                const char *before = getenv("LC_CTYPE");
                ctype_before = before ? strdup(before) : NULL;
                ctype_set = 1;
                if (setenv("LC_CTYPE", TARGETS[i], 1) != 0) return -1;
                break;
            }
        }
        return 1; /* UTF-8 mode */
    }
    if (strcmp(nl_langinfo(CODESET), "UTF-8")) return -1;
    for (int i = 0; TARGETS[i]; i++)
        if (!strcmp(loc, TARGETS[i])) return 1;
    return 0;
}

static int valid_fd(int fd) { return fcntl(fd, F_GETFD) >= 0; }

static int put_env(Buf *b) {
    size_t count = 0;
    for (char **e = environ; *e; e++) count++;
    if (put_key(b, "env") || put_byte(b, '{')) return -1;
    for (size_t i = 0; i < count; i++) {
        const char *entry = environ[i], *eq = strchr(entry, '=');
        if (eq == NULL) continue;
        size_t klen = (size_t)(eq - entry);
        int seen = 0; /* os.environ keeps the first of a name that appears twice */
        for (size_t j = 0; j < i && !seen; j++) {
            const char *other = environ[j], *oeq = strchr(other, '=');
            seen = oeq != NULL && (size_t)(oeq - other) == klen && !memcmp(other, entry, klen);
        }
        if (seen) continue;
        if (put_str(b, entry, klen) || put_cstr(b, eq + 1)) return -1;
    }
    return put_byte(b, '0');
}

static int put_streams(Buf *b, int surrogates) {
    const char *unbuffered = getenv("PYTHONUNBUFFERED");
    int buffered = !(unbuffered && *unbuffered);
    if (put_key(b, "streams") || put_byte(b, '[') || put_i32(b, 3)) return -1;
    for (int fd = 0; fd < 3; fd++) {
        int line = buffered && (isatty(fd) || fd == 2);
        const char *errors =
            fd == 2 ? "backslashreplace" : (surrogates ? "surrogateescape" : "strict");
        if (put_byte(b, '(') || put_i32(b, 4) || put_cstr(b, "utf-8") || put_cstr(b, errors) ||
            put_byte(b, line ? 'T' : 'F') || put_byte(b, buffered ? 'F' : 'T'))
            return -1;
    }
    return 0;
}

static int request(Buf *b, int argc, char **argv, const char *cwd, int surrogates) {
    mode_t mask = umask(077);
    umask(mask);
    int ignored[4], nignored = 0;
    for (int i = 0; i < 4; i++) {
        struct sigaction sa;
        if (sigaction(FORWARDED_NUM[i], NULL, &sa) == 0 && sa.sa_handler == SIG_IGN)
            ignored[nignored++] = i;
    }
    if (put_byte(b, '{') || put_key(b, "protocol") || put_int(b, GITSM_PROTOCOL) || put_key(b, "kind") ||
        put_cstr(b, "run") || put_key(b, "interpreter") || put_byte(b, '[') || put_i32(b, 3) ||
        put_cstr(b, GITSM_ID_EXECUTABLE) || put_cstr(b, GITSM_ID_PREFIX) ||
        put_cstr(b, GITSM_ID_PACKAGE) || put_key(b, "argv") || put_byte(b, '[') ||
        put_i32(b, argc) || put_cstr(b, execfn))
        return -1;
    for (int i = 1; i < argc; i++)
        if (put_cstr(b, argv[i])) return -1;
    if (put_key(b, "args") || put_byte(b, '[') || put_i32(b, argc - 1)) return -1;
    for (int i = 1; i < argc; i++)
        if (put_cstr(b, argv[i])) return -1;
    if (put_key(b, "cwd") || put_cstr(b, cwd) || put_env(b) || put_key(b, "umask") ||
        put_int(b, (int32_t)mask) || put_streams(b, surrogates) || put_key(b, "ignored") ||
        put_byte(b, '[') || put_i32(b, nignored))
        return -1;
    for (int i = 0; i < nignored; i++)
        if (put_cstr(b, FORWARDED[ignored[i]])) return -1;
    return put_byte(b, '0');
}

static int read_exact(int fd, unsigned char *out, size_t n) {
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, out + got, n - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        got += (size_t)r;
    }
    return 0;
}

/* One answer record: its tag (0 when the agent closed the connection) and integer. */
static char read_record(int sock, int32_t *value) {
    unsigned char raw[5];
    if (read_exact(sock, raw, 5)) return 0;
    *value = (int32_t)(((uint32_t)raw[1] << 24) | ((uint32_t)raw[2] << 16) |
                       ((uint32_t)raw[3] << 8) | raw[4]);
    return (char)raw[0];
}

static void forward(int signum) {
    last_forwarded = signum;
    kill(command_pid, signum);
}

/* Exit as the command did: its status, or death by the same signal. */
static void die_like(int32_t code) {
    if (code >= 0) _exit(code & 0xFF);
    signal(-code, SIG_DFL);
    kill(getpid(), -code);
    _exit((128 - code) & 0xFF);
}

int main(int argc, char **argv) {
    execfn = (const char *)getauxval(AT_EXECFN);
    if (execfn == NULL || *execfn == '\0') execfn = argv[0];
    const char *mode = getenv("GITSM_AGENT");
    if (mode && (!strcmp(mode, "0") || !strcmp(mode, "off"))) fallback(argc, argv);
    for (int i = 1; i < argc; i++)
        for (int j = 0; IN_PROCESS[j]; j++)
            if (!strcmp(argv[i], IN_PROCESS[j])) fallback(argc, argv);
    const char *ioenc = getenv("PYTHONIOENCODING");
    if ((ioenc && *ioenc) || getenv("PYTHONUTF8") || getenv("PYTHONCOERCECLOCALE"))
        fallback(argc, argv);
    int surrogates = legacy_locale(); /* Python's locale and the environment it leaves */
    if (surrogates < 0) fallback(argc, argv);
    for (int fd = 0; fd < 3; fd++)
        if (!valid_fd(fd)) fallback(argc, argv);
    char *cwd = getcwd(NULL, 0);
    char *dir = agent_dir();
    if (cwd == NULL || dir == NULL || !private_dir(dir)) fallback(argc, argv);
    Buf body = {0};
    if (request(&body, argc, argv, cwd, surrogates)) fallback(argc, argv);

    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if ((size_t)snprintf(addr.sun_path, sizeof addr.sun_path, "%s/agent.sock", dir) >=
        sizeof addr.sun_path)
        fallback(argc, argv);
    int sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (sock < 0 || connect(sock, (struct sockaddr *)&addr, sizeof addr) != 0) fallback(argc, argv);
    struct ucred cred;
    socklen_t credlen = sizeof cred;
    if (getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cred, &credlen) != 0 || cred.uid != getuid()) {
        close(sock);
        fallback(argc, argv);
    }
    unsigned char head[4] = {(body.len >> 24) & 0xFF, (body.len >> 16) & 0xFF,
                             (body.len >> 8) & 0xFF, body.len & 0xFF};
    Buf framed = {0};
    if (put(&framed, head, 4) || put(&framed, body.data, body.len)) fallback(argc, argv);
    int fds[3] = {0, 1, 2};
    char control[CMSG_SPACE(sizeof fds)];
    memset(control, 0, sizeof control);
    struct iovec iov = {.iov_base = framed.data, .iov_len = framed.len};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
                         .msg_controllen = sizeof control};
    struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof fds);
    memcpy(CMSG_DATA(cm), fds, sizeof fds);
    ssize_t sent;
    do sent = sendmsg(sock, &msg, MSG_NOSIGNAL);
    while (sent < 0 && errno == EINTR);
    size_t done = sent > 0 ? (size_t)sent : 0;
    while (sent >= 0 && done < framed.len) { /* a request larger than the socket's buffer */
        sent = send(sock, framed.data + done, framed.len - done, MSG_NOSIGNAL);
        if (sent < 0 && errno == EINTR) sent = 0;
        else if (sent > 0) done += (size_t)sent;
    }
    if (done != framed.len) { /* nothing ran: the Python launcher tries again */
        close(sock);
        fallback(argc, argv);
    }
    int32_t value = 0;
    char tag = read_record(sock, &value);
    if (tag != 'P') { /* declined (another gitsm, or it changed), or gone before running it */
        close(sock);
        fallback(argc, argv);
    }
    command_pid = (pid_t)value;
    for (int i = 0; i < 4; i++) {
        struct sigaction sa, old;
        if (sigaction(FORWARDED_NUM[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN) continue;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = forward;
        sa.sa_flags = SA_RESTART;
        sigemptyset(&sa.sa_mask);
        sigaction(FORWARDED_NUM[i], &sa, NULL);
    }
    tag = read_record(sock, &value);
    if (tag == 'X') die_like(value);
    if (last_forwarded) die_like(-last_forwarded);
    fprintf(stderr,
            "gitsm: the agent's process for this command (pid %d) ended without an exit status; "
            "run it again, or with GITSM_AGENT=0 to run it without the agent\n",
            (int)command_pid);
    return 1;
}
