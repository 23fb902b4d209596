#ifndef WAREHOUSE_CARCHIVE_SHIM_H
#define WAREHOUSE_CARCHIVE_SHIM_H
#include <sys/types.h>
#include <archive.h>
#include <archive_entry.h>

/// The AE_IF* file-type macros cast to a mode type; Swift cannot import them.
static const unsigned int mw_ae_ifreg = AE_IFREG;
static const unsigned int mw_ae_ifdir = AE_IFDIR;
static const unsigned int mw_ae_iflnk = AE_IFLNK;

/// archive_entry_set_filetype takes `unsigned int` but set_perm a mode_t; fixed here once.
static inline void mw_archive_entry_set_regular_file(struct archive_entry *entry, int64_t size) {
    archive_entry_set_filetype(entry, AE_IFREG);
    archive_entry_set_perm(entry, 0644);
    archive_entry_set_size(entry, size);
}

#endif
