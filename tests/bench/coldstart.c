/*
 * coldstart: time from exec to the first "200" on GET /healthz, repeated.
 *
 *   coldstart RUNS PORT TIMEOUT_MS -- COMMAND [ARGS...]
 *   coldstart --runtime-api RUNS PORT TIMEOUT_MS -- COMMAND [ARGS...]
 *
 * --runtime-api: time from exec until a Lambda runtime first asks for an invocation. The
 * helper listens on 127.0.0.1:PORT as a stand-in Lambda Runtime API (the child gets
 * AWS_LAMBDA_RUNTIME_API=127.0.0.1:PORT) and stops the clock when the request line
 * "GET /2018-06-01/runtime/invocation/next" has arrived; it never answers it. An extension's
 * registration before it (the Lambda door registers its no-op shutdown extension) is answered
 * as the Runtime API answers it, and counts in the time, as it does on Lambda.
 *
 * For each run: take a CLOCK_MONOTONIC timestamp, fork + exec COMMAND (stdin, stdout and
 * stderr on /dev/null, environment inherited), then poll 127.0.0.1:PORT: a refused connect
 * is retried after ~0.2 ms; a connection sends "GET /healthz" and reads the status line.
 * The clock stops on the first 200. The child then gets SIGTERM (SIGKILL after 5 s) and is
 * reaped before the next run. One line per run on stdout: the milliseconds, 3 decimals.
 * Exits non-zero (with a message on stderr) if the child exits early or TIMEOUT_MS passes.
 * Built by tests/bench/run with gcc.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void nap_us(long us) {
    struct timespec ts = {0, us * 1000};
    nanosleep(&ts, NULL);
}

/* 1: got a 200; 0: not (yet) */
static int healthz_ok(int port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return 0;
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int ok = 0;
    if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct timeval tv = {2, 0};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        static const char req[] =
            "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
        if (write(fd, req, sizeof req - 1) == (ssize_t)(sizeof req - 1)) {
            char buf[64];
            size_t got = 0;
            while (got < 12) {
                ssize_t n = read(fd, buf + got, sizeof buf - 1 - got);
                if (n <= 0) break;
                got += (size_t)n;
            }
            buf[got] = 0;
            ok = got >= 12 && strncmp(buf, "HTTP/1.", 7) == 0 && strncmp(buf + 9, "200", 3) == 0;
        }
    }
    close(fd);
    return ok;
}

static void stop_child(pid_t pid) {
    kill(pid, SIGTERM);
    for (int i = 0; i < 5000; i++) {
        if (waitpid(pid, NULL, WNOHANG) == pid) return;
        nap_us(1000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

/* Forks and execs cmd with stdin, stdout and stderr on /dev/null; the child's pid, or -1. */
static pid_t spawn_quiet(char **cmd) {
    pid_t pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR);
        dup2(null, 0); dup2(null, 1); dup2(null, 2);
        execvp(cmd[0], cmd);
        _exit(127);
    }
    return pid;
}

static int runtime_api(int runs, int port, double timeout_ms, char **cmd);

int main(int argc, char **argv) {
    int lambda = argc > 1 && strcmp(argv[1], "--runtime-api") == 0;
    if (lambda) { argv++; argc--; }
    if (argc < 6 || strcmp(argv[4], "--") != 0) {
        fprintf(stderr, "usage: %s [--runtime-api] RUNS PORT TIMEOUT_MS -- COMMAND [ARGS...]\n", argv[0]);
        return 2;
    }
    int runs = atoi(argv[1]), port = atoi(argv[2]);
    double timeout_ms = atof(argv[3]);
    char **cmd = argv + 5;
    if (runs < 1 || port < 1 || port > 65535 || timeout_ms <= 0) {
        fprintf(stderr, "coldstart: bad RUNS, PORT or TIMEOUT_MS\n");
        return 2;
    }
    if (lambda) return runtime_api(runs, port, timeout_ms, cmd);
    if (healthz_ok(port)) {
        fprintf(stderr, "coldstart: something already answers on port %d\n", port);
        return 1;
    }
    for (int r = 0; r < runs; r++) {
        double t0 = now_ms();
        pid_t pid = spawn_quiet(cmd);
        if (pid < 0) { perror("coldstart: fork"); return 1; }
        double t1 = 0;
        for (;;) {
            if (healthz_ok(port)) { t1 = now_ms(); break; }
            int status;
            if (waitpid(pid, &status, WNOHANG) == pid) {
                fprintf(stderr, "coldstart: run %d: %s exited (status %d) before answering\n",
                        r + 1, cmd[0], status);
                return 1;
            }
            if (now_ms() - t0 > timeout_ms) {
                stop_child(pid);
                fprintf(stderr, "coldstart: run %d: no 200 on /healthz within %.0f ms\n",
                        r + 1, timeout_ms);
                return 1;
            }
            nap_us(200);
        }
        stop_child(pid);
        printf("%.3f\n", t1 - t0);
        fflush(stdout);
        /* the port must be free again before the next exec */
        for (int i = 0; i < 5000 && healthz_ok(port); i++) nap_us(1000);
    }
    return 0;
}

/* The Runtime API's answer to an extension's registration (the Lambda door registers its no-op
 * shutdown extension before the runtime asks for its first invocation). */
static const char registered[] =
    "HTTP/1.1 200 OK\r\nLambda-Extension-Identifier: coldstart\r\nContent-Type: application/json\r\n"
    "Content-Length: 73\r\n\r\n"
    "{\"functionName\":\"wx-stats-lambda\",\"functionVersion\":\"1\",\"handler\":\"boot\"}";

/* Whether buf holds a whole request: its head, and a body of its Content-Length. */
static int request_complete(const char *buf) {
    const char *end = strstr(buf, "\r\n\r\n");
    if (!end) return 0;
    const char *cl = strcasestr(buf, "\r\ncontent-length:");
    size_t body = (cl && cl < end) ? strtoul(cl + 17, NULL, 10) : 0;
    return strlen(end + 4) >= body;
}

#define CONNS 8
static int runtime_api(int runs, int port, double timeout_ms, char **cmd) {
    char addr[32];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
    setenv("AWS_LAMBDA_RUNTIME_API", addr, 1);
    static const char want[] = "GET /2018-06-01/runtime/invocation/next ";
    static const char reg[] = "POST /2020-01-01/extension/register ";
    static const char ext_next[] = "GET /2020-01-01/extension/event/next ";
    for (int r = 0; r < runs; r++) {
        int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
        setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        struct sockaddr_in a = {0};
        a.sin_family = AF_INET;
        a.sin_port = htons(port);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof a) != 0 || listen(lfd, 16) != 0) {
            perror("coldstart: listen");
            return 1;
        }
        fcntl(lfd, F_SETFL, O_NONBLOCK);
        double t0 = now_ms();
        pid_t pid = spawn_quiet(cmd);
        if (pid < 0) { perror("coldstart: fork"); return 1; }
        /* Several connections: the extension's registration and its long poll for events,
         * which are answered or left waiting, and the runtime's, whose GET next stops the clock. */
        int cfd[CONNS];
        char buf[CONNS][1024];
        size_t got[CONNS];
        for (int i = 0; i < CONNS; i++) { cfd[i] = -1; got[i] = 0; }
        double t1 = 0;
        while (t1 == 0) {
            int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
            for (int i = 0; fd >= 0 && i < CONNS; i++) {
                if (cfd[i] < 0) { cfd[i] = fd; got[i] = 0; fd = -1; }
            }
            if (fd >= 0) close(fd);
            for (int i = 0; i < CONNS && t1 == 0; i++) {
                if (cfd[i] < 0) continue;
                ssize_t n = read(cfd[i], buf[i] + got[i], sizeof buf[i] - 1 - got[i]);
                if (n > 0) got[i] += (size_t)n;
                else if (n == 0) { close(cfd[i]); cfd[i] = -1; continue; }
                buf[i][got[i]] = 0;
                if (!request_complete(buf[i])) continue;
                if (strncmp(buf[i], want, sizeof want - 1) == 0) {
                    t1 = now_ms();
                } else if (strncmp(buf[i], reg, sizeof reg - 1) == 0) {
                    if (write(cfd[i], registered, sizeof registered - 1) < 0) perror("coldstart: write");
                    got[i] = 0;
                } else if (strncmp(buf[i], ext_next, sizeof ext_next - 1) != 0) {
                    stop_child(pid);
                    fprintf(stderr, "coldstart: run %d: a request that is neither GET next nor an extension's: %.60s\n",
                            r + 1, buf[i]);
                    return 1;
                }
            }
            if (t1 != 0) break;
            int status;
            if (waitpid(pid, &status, WNOHANG) == pid) {
                fprintf(stderr, "coldstart: run %d: %s exited (status %d) before asking for an invocation\n",
                        r + 1, cmd[0], status);
                return 1;
            }
            if (now_ms() - t0 > timeout_ms) {
                stop_child(pid);
                fprintf(stderr, "coldstart: run %d: no GET next within %.0f ms\n", r + 1, timeout_ms);
                return 1;
            }
            nap_us(200);
        }
        stop_child(pid);
        for (int i = 0; i < CONNS; i++) if (cfd[i] >= 0) close(cfd[i]);
        close(lfd);
        printf("%.3f\n", t1 - t0);
        fflush(stdout);
    }
    return 0;
}
