/* The methods' error helper (eap/method.h). */
#include <stdarg.h>
#include <stdio.h>

#include "eap/method.h"

enum eap_mstatus eap_merr_set(struct eap_merr *e, enum eap_fail_kind kind, const char *fmt, ...)
{
	va_list ap;

	e->kind = kind;
	va_start(ap, fmt);
	vsnprintf(e->text, sizeof(e->text), fmt, ap);
	va_end(ap);
	return EAP_M_FAIL;
}
