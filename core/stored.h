/*
 * stored.h — deprecated: the stored record's header is record.h (renamed so
 * that it is not mistaken for node/store.c). Kept only so node/ and gateway/
 * build until their includes say "record.h"; remove it then.
 */
#ifndef HCP_STORED_H
#define HCP_STORED_H

#include "record.h"

#endif
