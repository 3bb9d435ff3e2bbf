/*
 * Runs a fuzz target over every file of its corpus with an ordinary
 * (non-libFuzzer) build, so the corpora are regression tests in `make check`.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int main(int argc, char **argv);

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long n;

	if (!f)
		return -1;
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
		fclose(f);
		return -1;
	}
	buf = malloc((size_t)n + 1);
	if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		fclose(f);
		return -1;
	}
	fclose(f);
	LLVMFuzzerTestOneInput(buf, (size_t)n);
	free(buf);
	return 0;
}

/*
 * An unreadable input or an empty corpus fails: either would pass while
 * testing nothing (a corpus path typo, a checkout without the files).
 */
int main(int argc, char **argv)
{
	unsigned count = 0, bad = 0;

	for (int i = 1; i < argc; i++) {
		DIR *d = opendir(argv[i]);
		struct dirent *e;

		if (!d) {
			fprintf(stderr, "replay: cannot open corpus %s\n", argv[i]);
			return 1;
		}
		while ((e = readdir(d))) {
			char path[4096];

			if (e->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", argv[i], e->d_name);
			if (run_file(path) == 0) {
				count++;
			} else {
				fprintf(stderr, "replay: cannot read %s\n", path);
				bad++;
			}
		}
		closedir(d);
	}
	if (argc < 2 || count == 0 || bad) {
		fprintf(stderr, "replay %s: %u inputs ran, %u unreadable: nothing tested\n",
			argc > 1 ? argv[1] : "(no corpus given)", count, bad);
		return 1;
	}
	printf("replay %s: %u corpus inputs ran clean\n", argv[1], count);
	return 0;
}
