#include "ike/id.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include <openssl/x509.h>

#include "ike/ikev2.h"

static int id_set(struct ike_id *id, uint8_t type, const void *data, size_t len)
{
	if (len == 0 || len > IKE_ID_MAX)
		return -1;
	id->type = type;
	id->len = (uint16_t)len;
	memcpy(id->data, data, len);
	return 0;
}

static int id_keyid(const char *hex, struct ike_id *id)
{
	size_t n = strlen(hex);
	uint8_t out[IKE_ID_MAX];

	if (n == 0 || n % 2 || n / 2 > sizeof(out))
		return -1;
	for (size_t i = 0; i < n / 2; i++) {
		unsigned v;

		if (!isxdigit((unsigned char)hex[2 * i]) || !isxdigit((unsigned char)hex[2 * i + 1]) ||
		    sscanf(hex + 2 * i, "%2x", &v) != 1)
			return -1;
		out[i] = (uint8_t)v;
	}
	return id_set(id, ID_KEY_ID, out, n / 2);
}

/* "C=CH, O=Org, CN=name" -> DER of the X.509 Name, through OpenSSL. */
static int id_dn(const char *s, struct ike_id *id)
{
	X509_NAME *name = X509_NAME_new();
	char buf[IKE_ID_MAX], *save = NULL, *tok;
	unsigned char *der = NULL;
	int len, rc = -1;

	if (!name || strlen(s) >= sizeof(buf))
		goto out;
	strcpy(buf, s);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');
		char *k = tok, *v;

		if (!eq)
			goto out;
		*eq = '\0';
		v = eq + 1;
		while (isspace((unsigned char)*k))
			k++;
		for (char *e = k + strlen(k); e > k && isspace((unsigned char)e[-1]); e--)
			e[-1] = '\0';
		while (isspace((unsigned char)*v))
			v++;
		if (!*k || !*v ||
		    !X509_NAME_add_entry_by_txt(name, k, MBSTRING_UTF8, (unsigned char *)v, -1, -1, 0))
			goto out;
	}
	len = i2d_X509_NAME(name, &der);
	if (len > 0)
		rc = id_set(id, ID_DER_ASN1_DN, der, (size_t)len);
out:
	OPENSSL_free(der);
	X509_NAME_free(name);
	return rc;
}

int ike_id_parse(const char *s, struct ike_id *id)
{
	uint8_t a[16];

	memset(id, 0, sizeof(*id));
	if (!s || !*s)
		return -1;
	if (inet_pton(AF_INET, s, a) == 1)
		return id_set(id, ID_IPV4_ADDR, a, 4);
	if (inet_pton(AF_INET6, s, a) == 1)
		return id_set(id, ID_IPV6_ADDR, a, 16);
	if (s[0] == '@' && s[1] == '#')
		return id_keyid(s + 2, id);
	if (s[0] == '@')
		return id_set(id, ID_FQDN, s + 1, strlen(s + 1));
	if (strchr(s, '='))
		return id_dn(s, id);
	if (strchr(s, '@'))
		return id_set(id, ID_RFC822_ADDR, s, strlen(s));
	return id_set(id, ID_FQDN, s, strlen(s));
}

bool ike_id_equal(const struct ike_id *a, const struct ike_id *b)
{
	return a->type == b->type && a->len == b->len && memcmp(a->data, b->data, a->len) == 0;
}

const char *ike_id_str(const struct ike_id *id, char *buf, size_t len)
{
	char tmp[INET6_ADDRSTRLEN];
	size_t n;

	switch (id->type) {
	case ID_IPV4_ADDR:
	case ID_IPV6_ADDR:
		if (id->len != (id->type == ID_IPV4_ADDR ? 4 : 16) ||
		    !inet_ntop(id->type == ID_IPV4_ADDR ? AF_INET : AF_INET6, id->data, tmp, sizeof(tmp)))
			snprintf(tmp, sizeof(tmp), "?");
		snprintf(buf, len, "%s", tmp);
		break;
	case ID_FQDN:
	case ID_RFC822_ADDR:
		n = id->len;
		snprintf(buf, len, "%.*s", (int)n, (const char *)id->data);
		for (char *p = buf; *p; p++)
			if (!isprint((unsigned char)*p))
				*p = '?';
		break;
	case ID_DER_ASN1_DN: {
		const unsigned char *p = id->data;
		X509_NAME *name = d2i_X509_NAME(NULL, &p, id->len);

		if (!name || !X509_NAME_oneline(name, buf, (int)len))
			snprintf(buf, len, "dn(%u bytes)", id->len);
		X509_NAME_free(name);
		break;
	}
	default:
		snprintf(buf, len, "id-type-%u(%u bytes)", id->type, id->len);
	}
	return buf;
}
