/* Placeholder until the CLI lands (issue 3). */
#include <stdio.h>

int main(int argc, char **argv);

int main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "ikeagent: not built yet\n");
	return 1;
}
