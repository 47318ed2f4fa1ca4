/* The dynamics kinds by name, one line each in registry.c. It depends on
 * nothing but the names, so that the configuration can validate
 * dynamics.kind without knowing any kind's code (dynamics.h has the ops). */
#ifndef SM_DYNAMICS_REGISTRY_H
#define SM_DYNAMICS_REGISTRY_H

#include <stddef.h>

struct dynamics_ops;

typedef struct {
    const char *name;                 /* the value of dynamics.kind */
    const char *desc;                 /* one line for --help and docs/config.md */
    const struct dynamics_ops *ops;
} dynamics_kind;

/* Terminated by an entry with name NULL; index = the stored dynamics.kind. */
extern const dynamics_kind DYNAMICS_REGISTRY[];

/* Index of the kind called name, or -1. */
int dynamics_index(const char *name);
/* The kind at index, or NULL. */
const dynamics_kind *dynamics_at(int index);
/* "level|cage": the allowed values, for messages. */
void dynamics_choices(char *out, size_t n);

#endif
