/* gatewayctl's printers: one per command, each turning the master's ok
 * answer (docs/control-protocol.md) into text for people on <out>, with
 * warnings on <err>. A field the answer lacks prints as "-", so an older
 * or newer master still gives a readable table. Each returns 0, or
 * -ENOMEM / -EIO when the text could not be built or written. */
#ifndef GW_CLI_PRINT_H
#define GW_CLI_PRINT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

int print_status(const json_t *answer, FILE *out, FILE *err);
int print_workers(const json_t *answer, FILE *out, FILE *err);
int print_services(const json_t *answer, FILE *out, FILE *err);
int print_breakers(const json_t *answer, FILE *out, FILE *err);
int print_limits(const json_t *answer, FILE *out, FILE *err);
int print_reload(const json_t *answer, FILE *out, FILE *err);
int print_config_check(const json_t *answer, FILE *out, FILE *err);
int print_instance_add(const json_t *answer, FILE *out, FILE *err);
int print_instance_remove(const json_t *answer, FILE *out, FILE *err);
int print_instance_drain(const json_t *answer, FILE *out, FILE *err);
int print_breakers_reset(const json_t *answer, FILE *out, FILE *err);
int print_breakers_open(const json_t *answer, FILE *out, FILE *err);
int print_limits_reset(const json_t *answer, FILE *out, FILE *err);
int print_stop(const json_t *answer, FILE *out, FILE *err);
int print_drain(const json_t *answer, FILE *out, FILE *err);
/* print_keys.c */
int print_keys_add(const json_t *answer, FILE *out, FILE *err);
int print_keys_list(const json_t *answer, FILE *out, FILE *err);
int print_keys_revoke(const json_t *answer, FILE *out, FILE *err);

/* An ok:false answer: "gatewayctl: ERROR" and then each of "errors" and
 * "warnings" on its own line, all on <err>. (The exit status that goes
 * with it is client_status()'s.) */
void print_failure(const json_t *answer, FILE *err);

/* Durations and sizes as the tables show them, into <buf> of <cap>:
 *   print_uptime: seconds as "2h 3m 4s" ("1d 0h 0m 5s", "0s");
 *   print_ms:     milliseconds as "250ms", "4.2s", "3m 20s";
 *   print_bytes:  "512 B", "40.0 KiB", "64.0 MiB". */
void print_uptime(char *buf, size_t cap, uint64_t seconds);
void print_ms(char *buf, size_t cap, uint64_t ms);
void print_bytes(char *buf, size_t cap, uint64_t bytes);

#endif
