/*
 * fuzz.h - what the fuzz targets share
 *
 * Each fz-NAME.c defines LLVMFuzzerTestOneInput().  "make fuzz" links
 * it with clang's libFuzzer and the sanitizers; "make check" links it
 * with replay.c, which feeds it the seed corpus and every input that
 * once crashed it.  A target checks what it is given as well as that
 * it survives it: FZ_CHECK aborts, which the fuzzer reports as a crash.
 */
#ifndef DOCMAIL_FUZZ_H
#define DOCMAIL_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define FZ_CHECK(c) do {						\
	if (!(c))							\
		fz_fail(__FILE__, __LINE__, #c);			\
} while (0)

void	fz_fail(const char *, int, const char *)
	    __attribute__((noreturn));

/* The input, consumed from the front. */
struct fz_in {
	const uint8_t	*p;
	size_t		 n;
};

/* The next byte, 0 when none is left. */
unsigned int	 fz_byte(struct fz_in *);
/*
 * The bytes up to the next NUL (consumed with it), or the rest, as a
 * malloc'd string.  Never NULL: a harness out of memory aborts.
 */
char		*fz_field(struct fz_in *);
/* Everything left, as a malloc'd string that may hold NULs. */
char		*fz_rest(struct fz_in *, size_t *);

void		*fz_malloc(size_t);
char		*fz_strndup(const void *, size_t);

/*
 * A regular file holding data that lives only in memory (memfd), so
 * that a crash leaves nothing behind.  Returns its descriptor and
 * writes a path that opens it into path, or -1 when memfd is missing.
 */
int		 fz_memfile(const void *, size_t, char *path, size_t);

/*
 * A private directory made on first use under $TMPDIR and removed at
 * exit; its path, then name inside it, in buf.
 */
const char	*fz_tmppath(const char *name, char *buf, size_t);

/* Text that can reach a terminal: UTF-8 without control characters. */
int		 fz_printable(const char *);

#endif /* DOCMAIL_FUZZ_H */
