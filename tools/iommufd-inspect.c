// SPDX-License-Identifier: GPL-2.0
/*
 * iommufd-inspect: show what every open /dev/iommu holds.
 *
 * Reads the module's debugfs view (/sys/kernel/debug/iommufd/state, root
 * only) and prints, per open iommufd: its objects by id and type, each
 * IOAS's mappings, the HWPTs and their backend, the attached devices with
 * PCI address and IOMMU group, and then the pinned and charged memory per
 * process and per user.  --json prints the same as one JSON document.
 *
 *   iommufd-inspect [--json] [--file PATH]
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STATE_PATH "/sys/kernel/debug/iommufd/state"
#define MAX_FIELDS 12

struct field {
	char *key;
	char *val;
};

/* One line of the state file: "kind key=value ...". */
struct record {
	char *kind;
	struct field f[MAX_FIELDS];
	int nf;
	bool dup_pages;		/* a "pages" record shown earlier too */
};

/* Every record of the state file, however many. */
static struct record *recs;
static int nrecs, caprecs;

static const char *get(const struct record *r, const char *key)
{
	int i;

	for (i = 0; i < r->nf; i++)
		if (!strcmp(r->f[i].key, key))
			return r->f[i].val;
	return "";
}

static unsigned long long num(const struct record *r, const char *key)
{
	return strtoull(get(r, key), NULL, 0);
}

static bool is(const struct record *r, const char *kind)
{
	return !strcmp(r->kind, kind);
}

static void parse_line(char *line)
{
	struct record *r;
	char *tok, *save;

	if (nrecs == caprecs) {
		int cap = caprecs ? 2 * caprecs : 1024;
		struct record *more = realloc(recs, cap * sizeof(*recs));

		if (!more) {
			fprintf(stderr, "iommufd-inspect: out of memory\n");
			exit(1);
		}
		recs = more;
		caprecs = cap;
	}
	r = &recs[nrecs];
	r->dup_pages = false;
	tok = strtok_r(line, " \n", &save);
	if (!tok)
		return;
	r->kind = strdup(tok);
	r->nf = 0;
	while ((tok = strtok_r(NULL, " \n", &save)) && r->nf < MAX_FIELDS) {
		char *eq = strchr(tok, '=');

		if (!eq)
			continue;
		*eq = 0;
		r->f[r->nf].key = strdup(tok);
		r->f[r->nf].val = strdup(eq + 1);
		r->nf++;
	}
	nrecs++;
}

/* qsort order of pages records: by id, then by position. */
static int cmp_pages(const void *a, const void *b)
{
	int ia = *(const int *)a, ib = *(const int *)b;
	int c = strcmp(get(&recs[ia], "id"), get(&recs[ib], "id"));

	return c ? c : ia - ib;
}

/* Mark every "pages" record but the first of each id (areas share them). */
static void mark_dup_pages(void)
{
	int *idx = malloc((nrecs + 1) * sizeof(*idx)), n = 0, i;

	if (!idx) {
		fprintf(stderr, "iommufd-inspect: out of memory\n");
		exit(1);
	}
	for (i = 0; i < nrecs; i++)
		if (is(&recs[i], "pages"))
			idx[n++] = i;
	qsort(idx, n, sizeof(*idx), cmp_pages);
	for (i = 1; i < n; i++)
		if (!strcmp(get(&recs[idx[i]], "id"), get(&recs[idx[i - 1]], "id")))
			recs[idx[i]].dup_pages = true;
	free(idx);
}

static int load(const char *path)
{
	char *line = NULL;
	size_t cap = 0;
	FILE *f = fopen(path, "r");

	if (!f) {
		fprintf(stderr, "iommufd-inspect: cannot read %s: %s\n", path,
			strerror(errno));
		if (errno == ENOENT)
			fprintf(stderr, "  is the iommufd module loaded and debugfs mounted?\n");
		else if (errno == EACCES)
			fprintf(stderr, "  it is readable by root only\n");
		return -1;
	}
	while (getline(&line, &cap, f) > 0)
		parse_line(line);
	free(line);
	fclose(f);
	mark_dup_pages();
	return 0;
}

static const char *human(unsigned long long bytes, char *buf, size_t n)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	int u = 0;
	double v = bytes;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	if (u == 0 || v == (unsigned long long)v)
		snprintf(buf, n, "%llu %s", (unsigned long long)v, unit[u]);
	else
		snprintf(buf, n, "%.1f %s", v, unit[u]);
	return buf;
}

static const char *pgsizes(unsigned long long bitmap, char *buf, size_t n)
{
	size_t used = 0;
	int bit;

	buf[0] = 0;
	for (bit = 0; bit < 64 && used < n; bit++) {
		char h[32];

		if (!(bitmap & (1ULL << bit)))
			continue;
		human(1ULL << bit, h, sizeof(h));
		used += snprintf(buf + used, n - used, "%s%s", used ? ", " : "",
				 h);
	}
	return buf;
}

/* ------------------------------------------------- pinned memory totals */

struct total {
	char key[32];
	char account[16];
	unsigned long long pinned;
};

/* Pinned pages per process or user (@by), each pages object once. */
static int totals(const char *by, struct total **out)
{
	struct total *t = NULL;
	int i, j, n = 0, cap = 0;

	for (i = 0; i < nrecs; i++) {
		const struct record *r = &recs[i];

		/* A busy pages object has no figures this time. */
		if (!is(r, "pages") || num(r, "busy") || r->dup_pages)
			continue;
		for (j = 0; j < n; j++)
			if (!strcmp(t[j].key, get(r, by)) &&
			    !strcmp(t[j].account, get(r, "account")))
				break;
		if (j == n) {
			if (n == cap) {
				cap = cap ? 2 * cap : 16;
				t = realloc(t, cap * sizeof(*t));
				if (!t) {
					fprintf(stderr, "iommufd-inspect: out of memory\n");
					exit(1);
				}
			}
			snprintf(t[n].key, sizeof(t[n].key), "%s", get(r, by));
			snprintf(t[n].account, sizeof(t[n].account), "%s",
				 get(r, "account"));
			t[n++].pinned = 0;
		}
		t[j].pinned += num(r, "pinned");
	}
	*out = t;
	return n;
}

/* ---------------------------------------------------------------- tables */

static void print_ctx_tables(int ci)
{
	const struct record *c = &recs[ci];
	char b1[32], b2[64];
	int i;

	printf("iommufd %s: opened by pid %s (%s), memory charged per %s\n",
	       get(c, "id"), get(c, "pid"), get(c, "comm"),
	       !strcmp(get(c, "account"), "process") ? "process" : "user");
	for (i = ci + 1; i < nrecs && !is(&recs[i], "ctx") &&
	     !is(&recs[i], "stats"); i++) {
		const struct record *r = &recs[i];

		if (num(r, "busy")) {
			/* Being changed right now: the kernel did not wait. */
			if (!is(r, "pages"))
				printf("  %s %s: busy, try again\n", r->kind,
				       get(r, is(r, "area") ? "iova" : "id"));
		} else if (is(r, "ioas")) {
			printf("  IOAS %s: %s mapping(s), %s domain(s), %s access(es), IOVA alignment %s\n",
			       get(r, "id"), get(r, "areas"), get(r, "domains"),
			       get(r, "accesses"), get(r, "alignment"));
			if (num(r, "areas"))
				printf("    %-18s %-18s %10s %6s %7s\n", "IOVA",
				       "LAST", "SIZE", "PERM", "PINNED");
		} else if (is(r, "area")) {
			printf("    %-18s %-18s %10s %6s %7llu\n", get(r, "iova"),
			       get(r, "last"),
			       human(num(r, "length"), b1, sizeof(b1)),
			       get(r, "prot"), num(r, "pinned"));
		} else if (is(r, "hwpt")) {
			printf("  HWPT %s: on IOAS %s, %s page table, %s, %s device(s), page sizes %s%s\n",
			       get(r, "id"), get(r, "ioas"),
			       !strcmp(get(r, "backend"), "mock") ? "mock" : "IOMMU",
			       num(r, "auto") ? "automatic" : "allocated",
			       get(r, "devices"),
			       pgsizes(num(r, "pgsizes"), b2, sizeof(b2)),
			       num(r, "enforce_cc") ?
			       ", enforces cache coherency" : "");
		} else if (is(r, "device")) {
			if (!strcmp(get(r, "name"), "mock"))
				printf("  DEVICE %s: mock device", get(r, "id"));
			else
				printf("  DEVICE %s: %s, IOMMU group %s",
				       get(r, "id"), get(r, "name"),
				       get(r, "group"));
			if (num(r, "hwpt"))
				printf(", attached to HWPT %s\n", get(r, "hwpt"));
			else
				printf(", not attached (DMA blocked)\n");
		} else if (is(r, "object")) {
			printf("  %s object %s\n", get(r, "type"), get(r, "id"));
		}
	}
}

static void print_totals_table(const char *title, const char *by,
			       const char *col)
{
	struct total *t;
	char b[32];
	int n = totals(by, &t), i;

	printf("%s\n  %-8s %-24s %12s %12s\n", title, col, "CHARGED TO",
	       "PAGES", "BYTES");
	for (i = 0; i < n; i++)
		printf("  %-8s %-24s %12llu %12s\n", t[i].key,
		       !strcmp(t[i].account, "none") ?
		       "nothing (CAP_IPC_LOCK)" : t[i].account,
		       t[i].pinned, human(t[i].pinned * 4096, b, sizeof(b)));
	if (!n)
		printf("  (nothing pinned)\n");
	free(t);
}

static void print_tables(void)
{
	int i, nctx = 0;

	for (i = 0; i < nrecs; i++) {
		if (is(&recs[i], "ctx")) {
			print_ctx_tables(i);
			nctx++;
		}
	}
	if (!nctx)
		printf("no open iommufd\n");
	printf("\n");
	print_totals_table("Pinned memory by process (each page once)", "pid",
			   "PID");
	print_totals_table("Pinned memory by user", "uid", "UID");
	for (i = 0; i < nrecs; i++)
		if (is(&recs[i], "stats"))
			printf("\nModule: %s live objects, %s pinned pages\n",
			       get(&recs[i], "objects"), get(&recs[i], "pinned"));
}

/* ------------------------------------------------------------------ JSON */

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", *s);
		else
			putchar(*s);
	}
	putchar('"');
}

/* Numbers stay numbers, except the ids of pages (hashed pointers). */
static bool json_numeric(const struct record *r, const char *key,
			 const char *v)
{
	char *end;

	if (!*v || (is(r, "pages") && !strcmp(key, "id")) ||
	    !strcmp(key, "pages"))
		return false;
	strtoull(v, &end, 0);
	return !*end;
}

/* A record's fields as JSON members, without the field @skip. */
static void json_fields(const struct record *r, const char *skip)
{
	bool first = true;
	int i;

	for (i = 0; i < r->nf; i++) {
		const char *k = r->f[i].key, *v = r->f[i].val;

		if (skip && !strcmp(k, skip))
			continue;
		printf("%s", first ? "" : ", ");
		first = false;
		json_str(k);
		printf(": ");
		if (json_numeric(r, k, v))
			printf("%llu", strtoull(v, NULL, 0));
		else
			json_str(v);
	}
}

static void json_record(const struct record *r, const char *skip)
{
	printf("{");
	json_fields(r, skip);
	printf("}");
}

static void json_list(int ci, const char *kind, const char *name)
{
	bool first = true;
	int i;

	printf(", ");
	json_str(name);
	printf(": [");
	for (i = ci + 1; i < nrecs && !is(&recs[i], "ctx") &&
	     !is(&recs[i], "stats"); i++) {
		if (!is(&recs[i], kind))
			continue;
		printf("%s", first ? "" : ", ");
		json_record(&recs[i], "ctx");
		first = false;
	}
	printf("]");
}

/* Each IOAS with its mappings inside. */
static void json_ioas(int ci)
{
	bool first = true;
	int i, j;

	printf(", \"ioas\": [");
	for (i = ci + 1; i < nrecs && !is(&recs[i], "ctx") &&
	     !is(&recs[i], "stats"); i++) {
		bool first_area = true;

		if (!is(&recs[i], "ioas"))
			continue;
		printf("%s", first ? "" : ", ");
		first = false;
		printf("{");
		json_fields(&recs[i], "ctx");
		printf(", \"mappings\": [");
		for (j = i + 1; j < nrecs && !is(&recs[j], "ioas") &&
		     !is(&recs[j], "ctx") && !is(&recs[j], "stats"); j++) {
			if (!is(&recs[j], "area"))
				continue;
			printf("%s", first_area ? "" : ", ");
			first_area = false;
			json_record(&recs[j], "ctx");
		}
		printf("]}");
	}
	printf("]");
}

static void json_totals(const char *by, const char *name)
{
	struct total *t;
	int n = totals(by, &t), i;

	printf(", ");
	json_str(name);
	printf(": [");
	for (i = 0; i < n; i++) {
		printf("%s{", i ? ", " : "");
		json_str(by);
		printf(": %s, \"account\": ", t[i].key);
		json_str(t[i].account);
		printf(", \"pinned_pages\": %llu}", t[i].pinned);
	}
	printf("]");
	free(t);
}

static void print_json(void)
{
	bool first = true;
	int i;

	printf("{\"contexts\": [");
	for (i = 0; i < nrecs; i++) {
		const struct record *c = &recs[i];

		if (!is(c, "ctx"))
			continue;
		printf("%s{\"id\": %llu, \"pid\": %llu, \"comm\": ", first ? "" : ", ",
		       num(c, "id"), num(c, "pid"));
		json_str(get(c, "comm"));
		printf(", \"account\": ");
		json_str(get(c, "account"));
		json_ioas(i);
		json_list(i, "hwpt", "hwpts");
		json_list(i, "device", "devices");
		json_list(i, "object", "other_objects");
		printf("}");
		first = false;
	}
	printf("]");
	json_totals("pid", "pinned_by_process");
	json_totals("uid", "pinned_by_user");
	for (i = 0; i < nrecs; i++)
		if (is(&recs[i], "stats"))
			printf(", \"module\": {\"objects\": %llu, \"pinned_pages\": %llu}",
			       num(&recs[i], "objects"), num(&recs[i], "pinned"));
	printf("}\n");
}

static void usage(void)
{
	fprintf(stderr,
		"usage: iommufd-inspect [--json] [--file PATH]\n"
		"Shows every open /dev/iommu: objects, mappings, page tables,\n"
		"devices and pinned memory.  Reads %s (root only).\n",
		STATE_PATH);
}

int main(int argc, char **argv)
{
	const char *path = STATE_PATH;
	bool json = false;
	int i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			json = true;
		} else if (!strcmp(argv[i], "--file") && i + 1 < argc) {
			path = argv[++i];
		} else {
			usage();
			return !strcmp(argv[i], "--help") ? 0 : 2;
		}
	}
	if (load(path))
		return 1;
	if (json)
		print_json();
	else
		print_tables();
	return 0;
}
