/*
 * xl_devices_shim.c - lets Debian's real `xl -N create CFG` (dry run) run where there is no
 * Xen hypervisor, so the tests of wnod-xl can have xl's own parser read wnod's configs.
 *
 * Loaded with LD_PRELOAD. Opens of /dev/xen/{privcmd,evtchn,gntdev,xenbus} get an empty
 * in-memory file instead (stat() and access() of those paths succeed the same way), and
 * every ioctl on such a file answers 0 - except privcmd's "unimplemented" probe, which
 * must fail with ENOTTY as the real driver does. /dev/xen/hypercall is deliberately left
 * missing: libxencall would mmap it, and mapping an empty file ends in SIGBUS. With this,
 * libxl believes it talks to a hypervisor that reports zeros: good for checking configs,
 * for nothing else. Built by the tests' `xl_parser` fixture with gcc.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_FD 4096
#define FAKE_DEVICE 1
#define FAKE_PRIVCMD 2

/* include/xen/privcmd.h: the ioctl no privcmd implements, used to learn its errno. */
#define IOCTL_PRIVCMD_UNIMPLEMENTED _IOC(_IOC_NONE, 'P', 0xFF, 0)

static char fake_fd[MAX_FD];

static int fake_kind(const char *path)
{
    if (!path)
        return 0;
    if (!strcmp(path, "/dev/xen/privcmd"))
        return FAKE_PRIVCMD;
    if (!strcmp(path, "/dev/xen/evtchn") || !strcmp(path, "/dev/xen/gntdev") ||
        !strcmp(path, "/dev/xen/xenbus"))
        return FAKE_DEVICE;
    return 0;
}

static int fake_open(int kind)
{
    int fd = memfd_create("wnod-xl-fake-device", MFD_CLOEXEC);
    if (fd >= 0 && fd < MAX_FD)
        fake_fd[fd] = (char)kind;
    return fd;
}

#define REAL(name, type) \
    static type real_##name; \
    if (!real_##name) \
        real_##name = (type)dlsym(RTLD_NEXT, #name)

typedef int (*open_fn)(const char *, int, ...);
typedef int (*openat_fn)(int, const char *, int, ...);
typedef int (*open2_fn)(const char *, int);
typedef int (*ioctl_fn)(int, unsigned long, ...);
typedef int (*close_fn)(int);
typedef int (*access_fn)(const char *, int);
typedef int (*stat_fn)(const char *, struct stat *);

static mode_t mode_arg(int flags, va_list ap)
{
    return (flags & (O_CREAT | O_TMPFILE)) ? va_arg(ap, mode_t) : 0;
}

#define OPEN_LIKE(name) \
    int name(const char *path, int flags, ...) \
    { \
        int kind = fake_kind(path); \
        if (kind) \
            return fake_open(kind); \
        va_list ap; \
        va_start(ap, flags); \
        mode_t mode = mode_arg(flags, ap); \
        va_end(ap); \
        REAL(name, open_fn); \
        return real_##name(path, flags, mode); \
    }
OPEN_LIKE(open)
OPEN_LIKE(open64)

#define OPENAT_LIKE(name) \
    int name(int dirfd, const char *path, int flags, ...) \
    { \
        int kind = fake_kind(path); \
        if (kind) \
            return fake_open(kind); \
        va_list ap; \
        va_start(ap, flags); \
        mode_t mode = mode_arg(flags, ap); \
        va_end(ap); \
        REAL(name, openat_fn); \
        return real_##name(dirfd, path, flags, mode); \
    }
OPENAT_LIKE(openat)
OPENAT_LIKE(openat64)

/* What _FORTIFY_SOURCE builds call for open() (libxenevtchn does). */
#define OPEN2_LIKE(name) \
    int name(const char *path, int flags) \
    { \
        int kind = fake_kind(path); \
        if (kind) \
            return fake_open(kind); \
        REAL(name, open2_fn); \
        return real_##name(path, flags); \
    }
OPEN2_LIKE(__open_2)
OPEN2_LIKE(__open64_2)

int ioctl(int fd, unsigned long request, ...)
{
    va_list ap;
    va_start(ap, request);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    if (fd >= 0 && fd < MAX_FD && fake_fd[fd]) {
        if (fake_fd[fd] == FAKE_PRIVCMD && request == IOCTL_PRIVCMD_UNIMPLEMENTED) {
            errno = ENOTTY;
            return -1;
        }
        return 0;
    }
    REAL(ioctl, ioctl_fn);
    return real_ioctl(fd, request, arg);
}

int close(int fd)
{
    if (fd >= 0 && fd < MAX_FD)
        fake_fd[fd] = 0;
    REAL(close, close_fn);
    return real_close(fd);
}

/* libxenstore looks for its device with access() and stat() before opening it. */
int access(const char *path, int mode)
{
    if (fake_kind(path))
        return 0;
    REAL(access, access_fn);
    return real_access(path, mode);
}

int stat(const char *path, struct stat *buf)
{
    if (fake_kind(path)) {
        int fd = memfd_create("wnod-xl-fake-stat", MFD_CLOEXEC);
        if (fd < 0)
            return -1;
        int rc = fstat(fd, buf);
        REAL(close, close_fn);
        real_close(fd);
        return rc;
    }
    REAL(stat, stat_fn);
    return real_stat(path, buf);
}
