/* bench/conn_storm.c: short TCP connections on loopback as fast as they go, for audit.sh.
 *
 *   conn_storm SECONDS CLIENT_THREADS PORT
 *
 * A server on 127.0.0.1:PORT accepts and closes at once (so it sends the first FIN); each
 * client thread connects from its own 127.0.0.x address (spreading the TIME-WAIT sockets over
 * many address pairs), reads the end and closes, again and again for SECONDS. Each connection
 * makes ten state changes: five of the client's socket (CLOSED > SYN-SENT > ESTABLISHED >
 * CLOSE-WAIT > LAST-ACK > CLOSED) and five of the accepted one (LISTEN > SYN-RECV > ESTABLISHED
 * > FIN-WAIT-1 > FIN-WAIT-2 > CLOSED). Prints {"connections": N, "failed": F, "seconds": S}. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static atomic_long done, failed;
static atomic_int stop, server_stop;
static int port;

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

static void *server(void *arg) {
  struct pollfd p = {.fd = *(int *)arg, .events = POLLIN};
  while (!atomic_load(&server_stop)) {
    if (poll(&p, 1, 100) <= 0) continue; /* looks at server_stop at least every 100 ms */
    int fd = accept4(p.fd, NULL, NULL, SOCK_NONBLOCK);
    if (fd >= 0) close(fd);
  }
  return NULL;
}

static void *client(void *arg) {
  long index = (long)arg;
  struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(port)};
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  char buf[16];
  unsigned n = 0;
  while (!atomic_load(&stop)) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    struct sockaddr_in from = {.sin_family = AF_INET};
    /* 127.0.x.y, x by thread, y cycling: a fresh address pair for most connections */
    from.sin_addr.s_addr = htonl(0x7f000000u | ((uint32_t)(index + 1) << 8) | (2 + n++ % 250));
    if (bind(fd, (struct sockaddr *)&from, sizeof from) != 0 ||
        connect(fd, (struct sockaddr *)&to, sizeof to) != 0) {
      atomic_fetch_add(&failed, 1);
    } else {
      while (read(fd, buf, sizeof buf) > 0) {
      }
      atomic_fetch_add(&done, 1);
    }
    close(fd);
  }
  return NULL;
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: conn_storm SECONDS CLIENT_THREADS PORT\n");
    return 2;
  }
  const double seconds = atof(argv[1]);
  const int threads = atoi(argv[2]);
  port = atoi(argv[3]);
  int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  int one = 1;
  setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in at = {.sin_family = AF_INET, .sin_port = htons(port)};
  at.sin_addr.s_addr = htonl(INADDR_ANY);
  if (bind(listener, (struct sockaddr *)&at, sizeof at) != 0 || listen(listener, 4096) != 0) {
    perror("conn_storm: listen");
    return 1;
  }
  pthread_t srv, cl[64];
  pthread_create(&srv, NULL, server, &listener);
  const double start = now();
  for (long i = 0; i < threads && i < 64; ++i) pthread_create(&cl[i], NULL, client, (void *)i);
  while (now() - start < seconds) usleep(10000);
  atomic_store(&stop, 1);
  for (long i = 0; i < threads && i < 64; ++i) pthread_join(cl[i], NULL);
  const double took = now() - start;
  /* only now: a client's last connection waits for the server to accept and close it */
  atomic_store(&server_stop, 1);
  pthread_join(srv, NULL);
  printf("{\"connections\": %ld, \"failed\": %ld, \"seconds\": %.3f}\n", atomic_load(&done),
         atomic_load(&failed), took);
  return 0;
}
