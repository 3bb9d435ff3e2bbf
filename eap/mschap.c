#include "eap/mschap.h"

#include <pthread.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/provider.h>

#include "util/err.h"

/* RFC 2759 §8.7 */
static const char auth_magic1[] = "Magic server to client signing constant";
static const char auth_magic2[] = "Pad to make it do more than one iteration";
/* RFC 3079 §3.4 */
static const char key_magic1[] = "This is the MPPE Master Key";
static const char key_magic2[] =
	"On the client side, this is the send key; on the server side, it is the receive key.";
static const char key_magic3[] =
	"On the client side, this is the receive key; on the server side, it is the send key.";
#define SHS_PAD_LEN	40

static const char no_legacy[] =
	"MD4 is not available: OpenSSL's legacy provider could not be loaded";

/*
 * MD4 and single DES live in OpenSSL 3's legacy provider. We load it into
 * a library context of our own so that nothing else in the process can
 * fetch these algorithms by accident; created once, on first use, and kept.
 */
static struct {
	pthread_once_t once;
	OSSL_LIB_CTX *ctx;
	OSSL_PROVIDER *prov[2];
	EVP_MD *md4;
	EVP_CIPHER *des;
} legacy = { .once = PTHREAD_ONCE_INIT };

static void legacy_init(void)
{
	OSSL_LIB_CTX *ctx = OSSL_LIB_CTX_new();

	if (!ctx)
		return;
	legacy.prov[0] = OSSL_PROVIDER_load(ctx, "legacy");
	legacy.prov[1] = OSSL_PROVIDER_load(ctx, "default");
	legacy.md4 = EVP_MD_fetch(ctx, "MD4", NULL);
	legacy.des = EVP_CIPHER_fetch(ctx, "DES-ECB", NULL);
	if (legacy.prov[0] && legacy.prov[1] && legacy.md4 && legacy.des) {
		legacy.ctx = ctx;
		return;
	}
	EVP_MD_free(legacy.md4);
	EVP_CIPHER_free(legacy.des);
	for (int i = 0; i < 2; i++)
		if (legacy.prov[i])
			OSSL_PROVIDER_unload(legacy.prov[i]);
	OSSL_LIB_CTX_free(ctx);
	memset(&legacy.prov, 0, sizeof(legacy.prov));
	legacy.md4 = NULL;
	legacy.des = NULL;
}

static bool legacy_ok(void)
{
	return pthread_once(&legacy.once, legacy_init) == 0 && legacy.ctx;
}

const char *mschap_crypto_error(void)
{
	return no_legacy;
}

struct chunk {
	const void *p;
	size_t len;
};

/* out = md(c[0] | ... | c[n-1]), the digest's whole length. */
static int digest(const EVP_MD *md, const struct chunk *c, size_t n, uint8_t *out)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int rc = -1;

	if (!ctx || EVP_DigestInit_ex(ctx, md, NULL) != 1)
		goto done;
	for (size_t i = 0; i < n; i++)
		if (EVP_DigestUpdate(ctx, c[i].p, c[i].len) != 1)
			goto done;
	if (EVP_DigestFinal_ex(ctx, out, NULL) == 1)
		rc = 0;
done:
	EVP_MD_CTX_free(ctx);	/* cleanses its state */
	return rc;
}

static int md4(const struct chunk *c, size_t n, uint8_t out[MSCHAP_HASH_LEN])
{
	return legacy_ok() ? digest(legacy.md4, c, n, out) : -1;
}

/* SHA-1 truncated to len octets. */
static int sha1(const struct chunk *c, size_t n, uint8_t *out, size_t len)
{
	uint8_t full[20];
	int rc = digest(EVP_sha1(), c, n, full);

	if (rc == 0)
		memcpy(out, full, len);
	OPENSSL_cleanse(full, sizeof(full));
	return rc;
}

/*
 * One code point from UTF-8 (RFC 3629), strictly: no overlong forms, no
 * surrogates, nothing above U+10FFFF. Returns the octets used, 0 if invalid.
 */
static size_t utf8_next(const uint8_t *s, size_t left, uint32_t *cp)
{
	static const uint32_t min[] = { 0, 0, 0x80, 0x800, 0x10000 };
	size_t n;
	uint32_t c;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if ((s[0] & 0xe0) == 0xc0) {
		n = 2;
		c = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		n = 3;
		c = s[0] & 0x0f;
	} else if ((s[0] & 0xf8) == 0xf0) {
		n = 4;
		c = s[0] & 0x07;
	} else {
		return 0;	/* a continuation octet or 0xf8..0xff */
	}
	if (n > left)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	if (c < min[n] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return n;
}

/* UTF-8 to UTF-16LE into out (cap octets); -1 if invalid or too long. */
static int utf8_to_utf16le(const uint8_t *s, size_t len, uint8_t *out, size_t cap, size_t *out_len,
			   char *err, size_t errlen)
{
	size_t pos = 0, o = 0;

	while (pos < len) {
		uint32_t cp;
		size_t n = utf8_next(s + pos, len - pos, &cp);
		uint16_t u[2];
		size_t nu = 1;

		if (!n)
			return err_set(err, errlen, "the password is not valid UTF-8 (at octet %zu)",
				       pos + 1);
		pos += n;
		if (cp >= 0x10000) {	/* a surrogate pair */
			cp -= 0x10000;
			u[0] = (uint16_t)(0xd800 | cp >> 10);
			u[1] = (uint16_t)(0xdc00 | (cp & 0x3ff));
			nu = 2;
		} else {
			u[0] = (uint16_t)cp;
		}
		for (size_t i = 0; i < nu; i++) {
			if (o + 2 > cap)
				return err_set(err, errlen, "the password is too long for MSCHAPv2 "
					       "(at most %d UTF-16 characters)", MSCHAP_PW_MAX_UNITS);
			out[o++] = (uint8_t)u[i];
			out[o++] = (uint8_t)(u[i] >> 8);
		}
	}
	*out_len = o;
	return 0;
}

int mschap_nt_password_hash(const uint8_t *pw, size_t len, uint8_t out[MSCHAP_HASH_LEN],
			    char *err, size_t errlen)
{
	/* RFC 2759 §8.2: "Password is 0 to 256-unicode-char" */
	uint8_t u16[2 * MSCHAP_PW_MAX_UNITS];
	size_t ulen = 0;
	int rc = -1;

	if (utf8_to_utf16le(pw, len, u16, sizeof(u16), &ulen, err, errlen) < 0)
		goto done;
	/* RFC 2759 §8.3: MD4 of the Unicode password, without a terminating NUL */
	if (md4(&(struct chunk){ u16, ulen }, 1, out) < 0) {
		err_set(err, errlen, "%s", no_legacy);
		goto done;
	}
	rc = 0;
done:
	OPENSSL_cleanse(u16, sizeof(u16));
	return rc;
}

int mschap_hash_nt_password_hash(const uint8_t hash[MSCHAP_HASH_LEN], uint8_t out[MSCHAP_HASH_LEN])
{
	return md4(&(struct chunk){ hash, MSCHAP_HASH_LEN }, 1, out);
}

int mschap_challenge_hash(const uint8_t peer_chal[MSCHAP_CHALLENGE_LEN],
			  const uint8_t auth_chal[MSCHAP_CHALLENGE_LEN], const uint8_t *user,
			  size_t user_len, uint8_t out[MSCHAP_CH_HASH_LEN])
{
	const struct chunk c[] = {
		{ peer_chal, MSCHAP_CHALLENGE_LEN },
		{ auth_chal, MSCHAP_CHALLENGE_LEN },
		{ user, user_len },
	};

	return sha1(c, 3, out, MSCHAP_CH_HASH_LEN);
}

/* RFC 2759 §8.6: 7 key octets spread over 8, the low bit of each a parity bit (odd here). */
static void des_key(const uint8_t k7[7], uint8_t k8[8])
{
	uint64_t bits = 0;

	for (int i = 0; i < 7; i++)
		bits = bits << 8 | k7[i];
	for (int i = 0; i < 8; i++) {
		uint8_t b = (uint8_t)((bits >> (49 - 7 * i)) & 0x7f) << 1;

		k8[i] = b | !(__builtin_popcount(b) & 1);
	}
	OPENSSL_cleanse(&bits, sizeof(bits));
}

/* DesEncrypt (§8.6): one 8-octet block with the 7-octet key. */
static int des_encrypt(const uint8_t clear[8], const uint8_t k7[7], uint8_t cypher[8])
{
	EVP_CIPHER_CTX *ctx;
	uint8_t key[8];
	int n = 0, rc = -1;

	if (!legacy_ok())
		return -1;
	des_key(k7, key);
	ctx = EVP_CIPHER_CTX_new();
	if (ctx && EVP_EncryptInit_ex2(ctx, legacy.des, key, NULL, NULL) == 1 &&
	    EVP_CIPHER_CTX_set_padding(ctx, 0) == 1 && EVP_EncryptUpdate(ctx, cypher, &n, clear, 8) == 1 &&
	    n == 8)
		rc = 0;
	EVP_CIPHER_CTX_free(ctx);
	OPENSSL_cleanse(key, sizeof(key));
	return rc;
}

int mschap_challenge_response(const uint8_t ch_hash[MSCHAP_CH_HASH_LEN],
			      const uint8_t pw_hash[MSCHAP_HASH_LEN], uint8_t out[MSCHAP_NT_RESP_LEN])
{
	/* RFC 2759 §8.5: "Set ZPasswordHash to PasswordHash zero-padded to 21 octets" */
	uint8_t z[21] = { 0 };
	int rc = 0;

	memcpy(z, pw_hash, MSCHAP_HASH_LEN);
	for (int i = 0; i < 3 && rc == 0; i++)
		rc = des_encrypt(ch_hash, z + 7 * i, out + 8 * i);
	OPENSSL_cleanse(z, sizeof(z));
	return rc;
}

int mschap_auth_response(const uint8_t pw_hash_hash[MSCHAP_HASH_LEN],
			 const uint8_t nt_resp[MSCHAP_NT_RESP_LEN],
			 const uint8_t ch_hash[MSCHAP_CH_HASH_LEN], uint8_t out[MSCHAP_AUTH_LEN])
{
	uint8_t d[20];
	const struct chunk c1[] = {
		{ pw_hash_hash, MSCHAP_HASH_LEN },
		{ nt_resp, MSCHAP_NT_RESP_LEN },
		{ auth_magic1, sizeof(auth_magic1) - 1 },
	};
	const struct chunk c2[] = {
		{ d, sizeof(d) },
		{ ch_hash, MSCHAP_CH_HASH_LEN },
		{ auth_magic2, sizeof(auth_magic2) - 1 },
	};
	int rc = -1;

	if (sha1(c1, 3, d, sizeof(d)) == 0 && sha1(c2, 3, out, MSCHAP_AUTH_LEN) == 0)
		rc = 0;
	OPENSSL_cleanse(d, sizeof(d));
	return rc;
}

void mschap_auth_string(const uint8_t auth[MSCHAP_AUTH_LEN], char out[MSCHAP_AUTH_STR_LEN + 1])
{
	static const char hex[] = "0123456789ABCDEF";

	out[0] = 'S';
	out[1] = '=';
	for (int i = 0; i < MSCHAP_AUTH_LEN; i++) {
		out[2 + 2 * i] = hex[auth[i] >> 4];
		out[3 + 2 * i] = hex[auth[i] & 0xf];
	}
	out[MSCHAP_AUTH_STR_LEN] = '\0';
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int mschap_auth_check(const uint8_t auth[MSCHAP_AUTH_LEN], const char *s, size_t len)
{
	uint8_t got[MSCHAP_AUTH_LEN];

	if (len != MSCHAP_AUTH_STR_LEN || s[0] != 'S' || s[1] != '=')
		return -1;
	for (int i = 0; i < MSCHAP_AUTH_LEN; i++) {
		int hi = hexval(s[2 + 2 * i]), lo = hexval(s[3 + 2 * i]);

		if (hi < 0 || lo < 0)
			return -1;
		got[i] = (uint8_t)(hi << 4 | lo);
	}
	/* the server's proof: compared in constant time */
	return CRYPTO_memcmp(got, auth, MSCHAP_AUTH_LEN) == 0 ? 0 : -1;
}

int mschap_master_key(const uint8_t pw_hash_hash[MSCHAP_HASH_LEN],
		      const uint8_t nt_resp[MSCHAP_NT_RESP_LEN], uint8_t out[MSCHAP_HASH_LEN])
{
	const struct chunk c[] = {
		{ pw_hash_hash, MSCHAP_HASH_LEN },
		{ nt_resp, MSCHAP_NT_RESP_LEN },
		{ key_magic1, sizeof(key_magic1) - 1 },
	};

	return sha1(c, 3, out, MSCHAP_HASH_LEN);
}

int mschap_start_key(const uint8_t master[MSCHAP_HASH_LEN], bool is_send, bool is_server,
		     uint8_t out[MSCHAP_HASH_LEN])
{
	static const uint8_t pad1[SHS_PAD_LEN] = { 0 };
	static const uint8_t pad2[SHS_PAD_LEN] = {
		[0 ... SHS_PAD_LEN - 1] = 0xf2
	};
	/* RFC 3079 §3.4: the client's send key is the server's receive key (Magic2) */
	const char *magic = is_send == is_server ? key_magic3 : key_magic2;
	const struct chunk c[] = {
		{ master, MSCHAP_HASH_LEN },
		{ pad1, sizeof(pad1) },
		{ magic, sizeof(key_magic2) - 1 },	/* Magic2 and Magic3 are both 84 octets */
		{ pad2, sizeof(pad2) },
	};

	_Static_assert(sizeof(key_magic2) == sizeof(key_magic3), "MPPE magic lengths");
	return sha1(c, 4, out, MSCHAP_HASH_LEN);
}

/*
 * The MSK, as strongSwan derives it (GenerateMSK() in
 * src/libcharon/plugins/eap_mschapv2/eap_mschapv2.c, used alike by its
 * client and its server), 64 octets:
 *
 *   MSK = SHA1(MasterKey | SHSpad1 | Magic2 | SHSpad2)[0..15]   16 octets
 *       | SHA1(MasterKey | SHSpad1 | Magic3 | SHSpad2)[0..15]   16 octets
 *       | 32 zero octets
 *
 * i.e. in the client's (our) terms MasterSendKey | MasterReceiveKey | 0^32
 * (strongSwan calls the first one master_receive_key: the server's name
 * for it), each the 128-bit GetAsymmetricStartKey() of RFC 3079 §3.4 with
 * MasterKey = GetMasterKey(PasswordHashHash, NT-Response), no
 * GetNewKeyFromSHA() step. The zero half matters for PRFs that do not
 * zero-pad their key as HMAC does (AES-XCBC/CMAC).
 */
int mschap_msk(const uint8_t pw_hash_hash[MSCHAP_HASH_LEN],
	       const uint8_t nt_resp[MSCHAP_NT_RESP_LEN], uint8_t out[MSCHAP_MSK_LEN])
{
	uint8_t master[MSCHAP_HASH_LEN];
	int rc = -1;

	memset(out, 0, MSCHAP_MSK_LEN);
	if (mschap_master_key(pw_hash_hash, nt_resp, master) == 0 &&
	    mschap_start_key(master, true, false, out) == 0 &&
	    mschap_start_key(master, false, false, out + MSCHAP_HASH_LEN) == 0)
		rc = 0;
	OPENSSL_cleanse(master, sizeof(master));
	if (rc < 0)
		OPENSSL_cleanse(out, MSCHAP_MSK_LEN);
	return rc;
}

int mschap_peer_compute(const uint8_t pw_hash[MSCHAP_HASH_LEN],
			const uint8_t auth_chal[MSCHAP_CHALLENGE_LEN],
			const uint8_t peer_chal[MSCHAP_CHALLENGE_LEN], const uint8_t *user,
			size_t user_len, struct mschap_result *r)
{
	uint8_t hh[MSCHAP_HASH_LEN], ch[MSCHAP_CH_HASH_LEN];
	const uint8_t *bs = memchr(user, '\\', user_len);
	int rc = -1;

	/*
	 * RFC 2759 §8.2: "Only the user name (as presented by the peer and
	 * excluding any prepended domain name) is used as input to SHAsum."
	 */
	if (bs) {
		user_len -= (size_t)(bs + 1 - user);
		user = bs + 1;
	}
	if (mschap_challenge_hash(peer_chal, auth_chal, user, user_len, ch) == 0 &&
	    mschap_challenge_response(ch, pw_hash, r->nt_response) == 0 &&
	    mschap_hash_nt_password_hash(pw_hash, hh) == 0 &&
	    mschap_auth_response(hh, r->nt_response, ch, r->auth_response) == 0 &&
	    mschap_msk(hh, r->nt_response, r->msk) == 0)
		rc = 0;
	OPENSSL_cleanse(hh, sizeof(hh));
	OPENSSL_cleanse(ch, sizeof(ch));
	if (rc < 0)
		mschap_result_clear(r);
	return rc;
}

void mschap_result_clear(struct mschap_result *r)
{
	OPENSSL_cleanse(r, sizeof(*r));
}
