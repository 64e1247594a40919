/*
 * limits.h - sizes taken from the RFCs, in one place
 */
#ifndef DOCMAIL_LIMITS_H
#define DOCMAIL_LIMITS_H

#define DM_LOCALPART_MAX	64	/* RFC 5321 4.5.3.1.1 */
#define DM_DOMAIN_MAX		255	/* RFC 5321 4.5.3.1.2 */
#define DM_MAILBOX_MAX		254	/* RFC 5321 path minus the brackets */
#define DM_LINE_MAX		998	/* RFC 5322 2.1.1, without CRLF */
#define DM_HEADER_FOLD		78	/* RFC 5322 2.1.1, recommended */
#define DM_ENCWORD_MAX		75	/* RFC 2047 2 */
#define DM_B64_LINE		76	/* RFC 2045 6.8 */

#endif /* DOCMAIL_LIMITS_H */
