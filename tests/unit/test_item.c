/*
 * test_item: id normalization (SYNC.md 1.2), GUID parsing (1.3), the
 * canonical key (1.4) and the schema-v1 item JSON.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "item.h"
#include "jsonu.h"
#include "util.h"

/* cmocka.h needs the headers above. */
#include <cmocka.h>

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* "name=value;name=value" -> ids (through item_ids_set_named). */
static void
set_ids(struct item_ids *ids, const char *spec)
{
    char *copy, *p;

    if (spec == NULL)
        return;
    copy = xstrdup(spec);
    p = copy;
    while (p && *p) {
        char *semi = strchr(p, ';');
        char *eq;

        if (semi)
            *semi = '\0';
        eq = strchr(p, '=');
        assert_non_null(eq);
        *eq = '\0';
        assert_int_equal(item_ids_set_named(ids, p, eq + 1), 0);
        p = semi ? semi + 1 : NULL;
    }
    free(copy);
}

/* "tmdb=1;imdb=tt2" in priority order; "" when empty. Owned. */
static char *
ids_str(const struct item_ids *ids)
{
    struct buf b;

    buf_init(&b);
    buf_puts(&b, "");
    for (int i = 0; i < ITEM_ID_MAX; i++) {
        if (ids->v[i] == NULL)
            continue;
        buf_printf(&b, "%s%s=%s", b.len ? ";" : "",
                   item_id_name((enum item_id)i), ids->v[i]);
    }
    return b.data;
}

/* "type|ids|show ids|season|episode" for comparisons. Owned. */
static char *
describe(const struct item *it)
{
    char *a = ids_str(&it->ids), *b = ids_str(&it->show_ids);
    char *s = xasprintf("%s|%s|%s|%d|%d", item_type_name(it->type), a, b,
                        it->season, it->episode);

    free(a);
    free(b);
    return s;
}

static struct json_object *
parse(const char *s)
{
    char err[256];
    struct json_object *o =
        jsonu_parse(s, strlen(s), JSONU_DEPTH, err, sizeof(err));

    if (o == NULL)
        fail_msg("test JSON does not parse: %s: %s", err, s);
    return o;
}

static void
test_names(void **state)
{
    (void)state;
    for (int i = 0; i < ITEM_ID_MAX; i++) {
        const char *n = item_id_name((enum item_id)i);
        char upper[32];
        size_t k;

        assert_true(strlen(n) > 0);
        assert_int_equal(item_id_from_name(n), i);
        for (k = 0; n[k] && k < sizeof(upper) - 1; k++)
            upper[k] = (char)(n[k] >= 'a' && n[k] <= 'z' ? n[k] - 32 : n[k]);
        upper[k] = '\0';
        assert_int_equal(item_id_from_name(upper), i);
    }
    assert_int_equal(item_id_from_name("Provider_tmdb"), -1);
    assert_int_equal(item_id_from_name("tvrage"), -1);
    assert_int_equal(item_id_from_name(""), -1);
    assert_int_equal(item_id_from_name(NULL), -1);

    assert_string_equal(item_type_name(ITEM_NONE), "");
    assert_string_equal(item_type_name(ITEM_MOVIE), "movie");
    assert_string_equal(item_type_name(ITEM_SHOW), "show");
    assert_string_equal(item_type_name(ITEM_SEASON), "season");
    assert_string_equal(item_type_name(ITEM_EPISODE), "episode");
    for (int t = ITEM_MOVIE; t < ITEM_TYPE_MAX; t++)
        assert_int_equal(item_type_from_name(item_type_name(t)), t);
    assert_int_equal(item_type_from_name("Episode"), ITEM_EPISODE);
    assert_int_equal(item_type_from_name("track"), ITEM_NONE);
    assert_int_equal(item_type_from_name("clip"), ITEM_NONE);
    assert_int_equal(item_type_from_name(""), ITEM_NONE);
    assert_int_equal(item_type_from_name(NULL), ITEM_NONE);

    for (int i = 0; i < ITEM_ID_MAX; i++) {
        bool numeric = i == ITEM_ID_TMDB || i == ITEM_ID_TVDB ||
                       i == ITEM_ID_TRAKT || i == ITEM_ID_SIMKL ||
                       i == ITEM_ID_ANILIST || i == ITEM_ID_MAL ||
                       i == ITEM_ID_KITSU || i == ITEM_ID_ANIDB;

        assert_int_equal(item_id_is_numeric((enum item_id)i), numeric);
    }
}

static const struct norm_case {
    enum item_id id;
    const char *raw;
    const char *want; /* NULL = dropped */
} norm_cases[] = {
    /* step 1: trim, junk words */
    {ITEM_ID_TMDB, "329865", "329865"},
    {ITEM_ID_TMDB, "  329865\t\n", "329865"},
    {ITEM_ID_TMDB, "", NULL},
    {ITEM_ID_TMDB, "   ", NULL},
    {ITEM_ID_TMDB, "0", NULL},
    {ITEM_ID_TMDB, "null", NULL},
    {ITEM_ID_TMDB, "NULL", NULL},
    {ITEM_ID_TMDB, "None", NULL},
    {ITEM_ID_TMDB, "NaN", NULL},
    {ITEM_ID_TMDB, "Unknown", NULL},
    {ITEM_ID_IMDB, "null", NULL},
    {ITEM_ID_IMDB, " none ", NULL},
    {ITEM_ID_PLEX, "0", NULL},
    {ITEM_ID_PLEX, "unknown", NULL},
    {ITEM_ID_EMBY, "NONE", NULL},
    {ITEM_ID_GUID, "nan", NULL},
    {ITEM_ID_SLUG, "Null", NULL},
    {ITEM_ID_JELLYFIN, "", NULL},
    /* step 2: numeric ids keep their digits */
    {ITEM_ID_TMDB, "329865abc", "329865"},
    {ITEM_ID_TMDB, "tmdb: 12", "12"},
    {ITEM_ID_TVDB, "-5", "5"},
    {ITEM_ID_TRAKT, "12.5", "125"},
    {ITEM_ID_TVDB, "00603", "603"},
    {ITEM_ID_TVDB, "000", NULL},
    {ITEM_ID_TVDB, "0x0", NULL},
    {ITEM_ID_SIMKL, "abc", NULL},
    {ITEM_ID_ANILIST, "9223372036854775807", "9223372036854775807"},
    {ITEM_ID_MAL, "9223372036854775808", NULL},
    {ITEM_ID_KITSU, "99999999999999999999", NULL},
    {ITEM_ID_ANIDB, "0009223372036854775807", "9223372036854775807"},
    {ITEM_ID_ANIDB, "1", "1"},
    /* step 3: imdb */
    {ITEM_ID_IMDB, "tt2543164", "tt2543164"},
    {ITEM_ID_IMDB, "tt2543164?lang=en", "tt2543164"},
    {ITEM_ID_IMDB, "imdb: tt123", "tt123"},
    {ITEM_ID_IMDB, "https://www.imdb.com/title/tt0133093/", "tt0133093"},
    {ITEM_ID_IMDB, "xtt12tt34", "tt12"},
    {ITEM_ID_IMDB, "ttx tt7", "tt7"},
    {ITEM_ID_IMDB, "123", NULL},
    {ITEM_ID_IMDB, "tt", NULL},
    {ITEM_ID_IMDB, "t1", NULL},
    /* step 4: jellyfin, slug */
    {ITEM_ID_JELLYFIN, "9250AB3D-1101-D017-05C3-53B78CBB572E",
     "9250ab3d1101d01705c353b78cbb572e"},
    {ITEM_ID_JELLYFIN, "9250ab3d1101d01705c353b78cbb572e",
     "9250ab3d1101d01705c353b78cbb572e"},
    {ITEM_ID_JELLYFIN, "---", NULL},
    {ITEM_ID_SLUG, " The-Matrix-1999 ", "the-matrix-1999"},
    /* strings kept as trimmed */
    {ITEM_ID_PLEX, " 48211 ", "48211"},
    {ITEM_ID_EMBY, "12345", "12345"},
    {ITEM_ID_EMBY, "AbC", "AbC"},
    {ITEM_ID_GUID, "plex://movie/5d776a8b9ab544002150d2f3",
     "plex://movie/5d776a8b9ab544002150d2f3"},
    {ITEM_ID_PLEX, "nullish", "nullish"},
};

static void
test_normalize(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_ELEMS(norm_cases); i++) {
        const struct norm_case *c = &norm_cases[i];
        struct item_ids ids;
        int rc;

        memset(&ids, 0, sizeof(ids));
        rc = item_ids_set(&ids, c->id, c->raw);
        if (c->want == NULL) {
            if (rc != -1 || ids.v[c->id] != NULL)
                fail_msg("case %zu: %s \"%s\" should be dropped", i,
                         item_id_name(c->id), c->raw);
        } else {
            if (rc != 0 || ids.v[c->id] == NULL ||
                strcmp(ids.v[c->id], c->want) != 0)
                fail_msg("case %zu: %s \"%s\" -> \"%s\", want \"%s\"", i,
                         item_id_name(c->id), c->raw,
                         ids.v[c->id] ? ids.v[c->id] : "(null)", c->want);
        }
        for (int k = 0; k < ITEM_ID_MAX; k++)
            if (k != (int)c->id)
                assert_null(ids.v[k]);
        item_ids_release(&ids);
    }
}

static void
test_normalize_misc(void **state)
{
    struct item_ids ids;
    char *longid;

    (void)state;
    memset(&ids, 0, sizeof(ids));
    assert_true(item_ids_empty(&ids));
    /* Replacing, and a dropped value leaving the old one in place. */
    assert_int_equal(item_ids_set(&ids, ITEM_ID_TMDB, "603"), 0);
    assert_false(item_ids_empty(&ids));
    assert_int_equal(item_ids_set(&ids, ITEM_ID_TMDB, "604"), 0);
    assert_string_equal(ids.v[ITEM_ID_TMDB], "604");
    assert_int_equal(item_ids_set(&ids, ITEM_ID_TMDB, "null"), -1);
    assert_string_equal(ids.v[ITEM_ID_TMDB], "604");
    assert_int_equal(item_ids_set(&ids, ITEM_ID_TMDB, NULL), -1);
    assert_int_equal(item_ids_set(&ids, ITEM_ID_MAX, "1"), -1);
    /* Named, any case. */
    assert_int_equal(item_ids_set_named(&ids, "Imdb", "tt0133093"), 0);
    assert_string_equal(ids.v[ITEM_ID_IMDB], "tt0133093");
    assert_int_equal(item_ids_set_named(&ids, "TVDB", "169"), 0);
    assert_string_equal(ids.v[ITEM_ID_TVDB], "169");
    assert_int_equal(item_ids_set_named(&ids, "Provider_tmdb", "1"), -1);
    assert_int_equal(item_ids_set_named(&ids, "TvRage", "1"), -1);
    assert_int_equal(item_ids_set_named(&ids, "TmdbCollection", "1"), -1);
    assert_string_equal(ids.v[ITEM_ID_TMDB], "604");
    /* An over-long id (outside input) is dropped. */
    longid = xmalloc(2001);
    memset(longid, '7', 2000);
    longid[2000] = '\0';
    assert_int_equal(item_ids_set(&ids, ITEM_ID_PLEX, longid), -1);
    assert_null(ids.v[ITEM_ID_PLEX]);
    free(longid);
    item_ids_release(&ids);
    assert_true(item_ids_empty(&ids));
}

static const struct guid_case {
    enum item_type type; /* before */
    const char *guid;
    int rc;
    const char *want; /* describe() after */
} guid_cases[] = {
    /* legacy agents */
    {ITEM_NONE, "com.plexapp.agents.imdb://tt0072684?lang=en", 0,
     "|imdb=tt0072684||-1|-1"},
    {ITEM_MOVIE, "com.plexapp.agents.imdb://tt0072684?lang=en", 0,
     "movie|imdb=tt0072684||-1|-1"},
    {ITEM_MOVIE, "com.plexapp.agents.themoviedb://603?lang=en", 0,
     "movie|tmdb=603||-1|-1"},
    {ITEM_MOVIE, "com.plexapp.agents.themoviedb://603", 0,
     "movie|tmdb=603||-1|-1"},
    {ITEM_MOVIE, "com.plexapp.agents.tmdb://603?lang=de", 0,
     "movie|tmdb=603||-1|-1"},
    {ITEM_NONE, "com.plexapp.agents.thetvdb://73871/2/15?lang=en", 0,
     "episode||tvdb=73871|2|15"},
    {ITEM_EPISODE, "com.plexapp.agents.thetvdb://73871/2/15?lang=en", 0,
     "episode||tvdb=73871|2|15"},
    {ITEM_NONE, "com.plexapp.agents.thetvdb://73871/0/3", 0,
     "episode||tvdb=73871|0|3"},
    {ITEM_NONE, "com.plexapp.agents.thetvdb://73871/2?lang=en", 0,
     "season||tvdb=73871|2|-1"},
    {ITEM_SEASON, "com.plexapp.agents.thetvdb://73871/2", 0,
     "season||tvdb=73871|2|-1"},
    {ITEM_NONE, "com.plexapp.agents.thetvdb://73871?lang=en", 0,
     "show|tvdb=73871||-1|-1"},
    {ITEM_SHOW, "com.plexapp.agents.thetvdb://73871?lang=en", 0,
     "show|tvdb=73871||-1|-1"},
    {ITEM_MOVIE, "com.plexapp.agents.thetvdb://73871", 0,
     "movie|tvdb=73871||-1|-1"},
    /* an episode given its show's (grandparent) guid */
    {ITEM_EPISODE, "com.plexapp.agents.thetvdb://73871?lang=en", 0,
     "episode||tvdb=73871|-1|-1"},
    {ITEM_NONE, "com.plexapp.agents.tvdb://73871/1/3", 0,
     "episode||tvdb=73871|1|3"},
    {ITEM_NONE, "com.plexapp.agents.themoviedb://1399/1/1?lang=en", 0,
     "episode||tmdb=1399|1|1"},
    {ITEM_NONE, "com.plexapp.agents.hama://anidb-123?lang=en", 0,
     "|anidb=123||-1|-1"},
    {ITEM_NONE, "com.plexapp.agents.hama://tvdb-81797/1/5?lang=en", 0,
     "episode||tvdb=81797|1|5"},
    {ITEM_NONE, "com.plexapp.agents.hama://foo-123", -1, "|||-1|-1"},
    {ITEM_NONE, "com.plexapp.agents.hama://123", -1, "|||-1|-1"},
    /* new-agent Guid[] entries, Tautulli guids */
    {ITEM_MOVIE, "imdb://tt2543164", 0, "movie|imdb=tt2543164||-1|-1"},
    {ITEM_MOVIE, "tmdb://329865", 0, "movie|tmdb=329865||-1|-1"},
    {ITEM_MOVIE, "tvdb://169", 0, "movie|tvdb=169||-1|-1"},
    {ITEM_EPISODE, "tvdb://8603573", 0, "episode|tvdb=8603573||-1|-1"},
    {ITEM_EPISODE, "imdb://tt11650492", 0, "episode|imdb=tt11650492||-1|-1"},
    {ITEM_NONE, "TMDB://42", 0, "|tmdb=42||-1|-1"},
    {ITEM_MOVIE, "  tmdb://42  ", 0, "movie|tmdb=42||-1|-1"},
    /* plex:// kept whole */
    {ITEM_MOVIE, "plex://movie/5d776a8b9ab544002150d2f3", 0,
     "movie|guid=plex://movie/5d776a8b9ab544002150d2f3||-1|-1"},
    {ITEM_EPISODE, "plex://episode/5d9c1275e9d5a1001f4f2b0a", 0,
     "episode|guid=plex://episode/5d9c1275e9d5a1001f4f2b0a||-1|-1"},
    {ITEM_MOVIE, "plex://", -1, "movie|||-1|-1"},
    /* ignored */
    {ITEM_MOVIE, "local://12345", -1, "movie|||-1|-1"},
    {ITEM_MOVIE, "com.plexapp.agents.none://8f1c2d?lang=xn", -1,
     "movie|||-1|-1"},
    {ITEM_MOVIE, "com.plexapp.agents.localmedia://1", -1, "movie|||-1|-1"},
    {ITEM_MOVIE, "https://example.com/x", -1, "movie|||-1|-1"},
    {ITEM_MOVIE, "", -1, "movie|||-1|-1"},
    {ITEM_MOVIE, "tmdb://", -1, "movie|||-1|-1"},
    {ITEM_MOVIE, "tmdb://0", -1, "movie|||-1|-1"},
    {ITEM_MOVIE, "imdb://123", -1, "movie|||-1|-1"},
    {ITEM_NONE, "com.plexapp.agents.thetvdb://73871/x/15", -1, "|||-1|-1"},
    {ITEM_NONE, "com.plexapp.agents.thetvdb://73871/2/-1", -1, "|||-1|-1"},
    {ITEM_NONE, "com.plexapp.agents.thetvdb://73871/2/15/9", -1, "|||-1|-1"},
    {ITEM_NONE, "com.plexapp.agents.thetvdb://73871//15", -1, "|||-1|-1"},
    {ITEM_NONE, "com.plexapp.agents.thetvdb://null/2/15", -1, "|||-1|-1"},
    {ITEM_NONE, "com.plexapp.agents.thetvdb://?lang=en", -1, "|||-1|-1"},
};

static void
test_guid(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_ELEMS(guid_cases); i++) {
        const struct guid_case *c = &guid_cases[i];
        struct item it;
        char *got;
        int rc;

        item_init(&it);
        it.type = c->type;
        rc = item_apply_guid(&it, c->guid);
        got = describe(&it);
        if (rc != c->rc || strcmp(got, c->want) != 0)
            fail_msg("guid case %zu \"%s\": rc %d \"%s\", want rc %d \"%s\"", i,
                     c->guid, rc, got, c->rc, c->want);
        free(got);
        item_release(&it);
    }
}

static void
test_guid_accumulates(void **state)
{
    struct item it;
    char *got;

    (void)state;
    item_init(&it);
    assert_int_equal(item_apply_guid(&it, NULL), -1);
    it.type = ITEM_MOVIE;
    assert_int_equal(
        item_apply_guid(&it, "plex://movie/5d776a8b9ab544002150d2f3"), 0);
    assert_int_equal(item_apply_guid(&it, "imdb://tt2543164"), 0);
    assert_int_equal(item_apply_guid(&it, "tmdb://329865"), 0);
    assert_int_equal(item_apply_guid(&it, "tvdb://169"), 0);
    assert_int_equal(item_apply_guid(&it, "local://9"), -1);
    got = describe(&it);
    assert_string_equal(got, "movie|tmdb=329865;imdb=tt2543164;tvdb=169;"
                             "guid=plex://movie/5d776a8b9ab544002150d2f3||-1|"
                             "-1");
    free(got);
    got = item_key(&it);
    assert_string_equal(got, "movie:tmdb:329865");
    free(got);
    item_release(&it);
}

static const struct key_case {
    enum item_type type;
    const char *title;
    int year;
    const char *ids;
    const char *show_ids;
    int season, episode;
    const char *want;
} key_cases[] = {
    /* priority */
    {ITEM_MOVIE, "Arrival", 2016,
     "plex=10432;tvdb=169;imdb=tt2543164;tmdb=329865;guid=plex://movie/x", NULL,
     -1, -1, "movie:tmdb:329865"},
    {ITEM_MOVIE, NULL, 0, "tvdb=169;imdb=tt2543164", NULL, -1, -1,
     "movie:imdb:tt2543164"},
    {ITEM_MOVIE, NULL, 0, "trakt=5;tvdb=169", NULL, -1, -1, "movie:tvdb:169"},
    {ITEM_MOVIE, NULL, 0, "simkl=6;trakt=5", NULL, -1, -1, "movie:trakt:5"},
    {ITEM_MOVIE, NULL, 0, "anilist=7;simkl=6", NULL, -1, -1, "movie:simkl:6"},
    {ITEM_MOVIE, NULL, 0, "mal=8;anilist=7", NULL, -1, -1, "movie:anilist:7"},
    {ITEM_MOVIE, NULL, 0, "kitsu=9;mal=8", NULL, -1, -1, "movie:mal:8"},
    {ITEM_MOVIE, NULL, 0, "anidb=10;kitsu=9", NULL, -1, -1, "movie:kitsu:9"},
    {ITEM_MOVIE, NULL, 0, "plex=11;anidb=10", NULL, -1, -1, "movie:anidb:10"},
    {ITEM_MOVIE, NULL, 0, "jellyfin=AB-CD;plex=11", NULL, -1, -1,
     "movie:plex:11"},
    {ITEM_MOVIE, NULL, 0, "emby=12;jellyfin=AB-CD", NULL, -1, -1,
     "movie:jellyfin:abcd"},
    {ITEM_MOVIE, NULL, 0, "guid=plex://movie/x;emby=12", NULL, -1, -1,
     "movie:emby:12"},
    {ITEM_MOVIE, NULL, 0, "slug=The-Slug;guid=plex://movie/x", NULL, -1, -1,
     "movie:guid:plex://movie/x"},
    {ITEM_MOVIE, NULL, 0, "slug=The-Slug", NULL, -1, -1, "movie:slug:the-slug"},
    {ITEM_SHOW, "Severance", 2022, "tmdb=95396;tvdb=371980", NULL, -1, -1,
     "show:tmdb:95396"},
    {ITEM_SHOW, NULL, 0, "tvdb=73871", NULL, -1, -1, "show:tvdb:73871"},
    /* tmdb movie and tv ids overlap: the type keeps them apart */
    {ITEM_MOVIE, NULL, 0, "tmdb=1399", NULL, -1, -1, "movie:tmdb:1399"},
    /* episodes and seasons with show ids */
    {ITEM_EPISODE, "Good News About Hell", 2022,
     "imdb=tt11650492;tmdb=1960512;tvdb=8603573", "tmdb=95396;tvdb=371980", 1,
     1, "show:tmdb:95396#s01e01"},
    {ITEM_EPISODE, NULL, 0, NULL, "tvdb=73871", 2, 15,
     "show:tvdb:73871#s02e15"},
    {ITEM_EPISODE, NULL, 0, NULL, "imdb=tt0386676", 0, 5,
     "show:imdb:tt0386676#s00e05"},
    {ITEM_EPISODE, NULL, 0, NULL, "tvdb=79824", 10, 123,
     "show:tvdb:79824#s10e123"},
    {ITEM_EPISODE, NULL, 0, NULL, "slug=one-piece", 1, 1000,
     "show:slug:one-piece#s01e1000"},
    {ITEM_SEASON, NULL, 0, NULL, "tvdb=73871", 2, -1, "show:tvdb:73871#s02"},
    {ITEM_SEASON, NULL, 0, NULL, "tvdb=73871", 0, -1, "show:tvdb:73871#s00"},
    {ITEM_SEASON, NULL, 0, "tvdb=30272", "tvdb=73871", 12, 4,
     "show:tvdb:73871#s12"},
    /* a show known only by its plex guid gives way to the episode's own
     * external ids (Plex webhooks), but not to a local id */
    {ITEM_EPISODE, NULL, 0, "plex=48211;tmdb=1960512",
     "guid=plex://show/5d9c086fe9d5a1001f4d0c45", 1, 1, "episode:tmdb:1960512"},
    {ITEM_EPISODE, NULL, 0, "plex=48211", "guid=plex://show/5d9c", 1, 1,
     "show:guid:plex://show/5d9c#s01e01"},
    {ITEM_SEASON, NULL, 0, "tmdb=120460", "guid=plex://show/5d9c", 1, -1,
     "season:tmdb:120460"},
    {ITEM_EPISODE, NULL, 0, "tmdb=1960512", "tvdb=371980;guid=plex://show/x", 1,
     1, "show:tvdb:371980#s01e01"},
    /* episodes without show ids: their own ids */
    {ITEM_EPISODE, "Good News About Hell", 2022, "tvdb=8603573", NULL, 1, 1,
     "episode:tvdb:8603573"},
    {ITEM_EPISODE, NULL, 0, "plex=48211;tvdb=8603573", NULL, -1, -1,
     "episode:tvdb:8603573"},
    /* show ids but unknown numbers: own ids, then the fallback */
    {ITEM_EPISODE, NULL, 0, "tvdb=8603573", "tmdb=95396", 1, -1,
     "episode:tvdb:8603573"},
    {ITEM_EPISODE, NULL, 0, "tvdb=8603573", "tmdb=95396", -1, 1,
     "episode:tvdb:8603573"},
    {ITEM_EPISODE, "Pilot", 2005, NULL, "tmdb=95396", -1, 3,
     "episode|pilot|2005"},
    {ITEM_SEASON, "Season 1", 0, "tvdb=30272", "tvdb=73871", -1, -1,
     "season:tvdb:30272"},
    /* no ids */
    {ITEM_MOVIE, "Arrival", 2016, NULL, NULL, -1, -1, "movie|arrival|2016"},
    {ITEM_MOVIE, "Arrival", 0, NULL, NULL, -1, -1, "movie|arrival|"},
    {ITEM_MOVIE, NULL, 0, NULL, NULL, -1, -1, "movie||"},
    {ITEM_MOVIE, NULL, 1999, NULL, NULL, -1, -1, "movie||1999"},
    {ITEM_MOVIE, "  The Lord of the Rings: The Fellowship -- of the Ring!! ",
     2001, NULL, NULL, -1, -1,
     "movie|the lord of the rings the fellowship of the ring|2001"},
    {ITEM_MOVIE,
     "WALL\xc2\xb7"
     "E",
     2008, NULL, NULL, -1, -1,
     "movie|wall\xc2\xb7"
     "e|2008"},
    {ITEM_MOVIE, "Am\xc3\xa9lie", 2001, NULL, NULL, -1, -1,
     "movie|am\xc3\xa9lie|2001"},
    {ITEM_MOVIE, "!!!", 2001, NULL, NULL, -1, -1, "movie||2001"},
    {ITEM_MOVIE, "Se7en", 1995, NULL, NULL, -1, -1, "movie|se7en|1995"},
    {ITEM_MOVIE, "M*A*S*H", 1970, NULL, NULL, -1, -1, "movie|m a s h|1970"},
    {ITEM_SHOW, "Severance", 2022, NULL, NULL, -1, -1, "show|severance|2022"},
    {ITEM_EPISODE, "Good News About Hell", 2022, NULL, NULL, 1, 1,
     "episode|good news about hell|2022"},
};

static void
build_item(struct item *it, const struct key_case *c)
{
    item_init(it);
    it->type = c->type;
    it->title = c->title ? xstrdup(c->title) : NULL;
    it->year = c->year;
    set_ids(&it->ids, c->ids);
    set_ids(&it->show_ids, c->show_ids);
    it->season = c->season;
    it->episode = c->episode;
}

static void
test_key(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_ELEMS(key_cases); i++) {
        struct item it;
        char *key;

        build_item(&it, &key_cases[i]);
        key = item_key(&it);
        if (strcmp(key, key_cases[i].want) != 0)
            fail_msg("key case %zu: \"%s\", want \"%s\"", i, key,
                     key_cases[i].want);
        free(key);
        item_release(&it);
    }
}

static const struct json_case {
    struct key_case in;
    const char *show_title;
    int show_year;
    const char *want;
} json_cases[] = {
    {{ITEM_MOVIE, "Arrival", 2016,
      "imdb=tt2543164;tmdb=329865;tvdb=169;plex=10432;"
      "guid=plex://movie/5d776a8b9ab544002150d2f3",
      NULL, -1, -1, NULL},
     NULL,
     0,
     "{\"type\":\"movie\",\"title\":\"Arrival\",\"year\":2016,\"ids\":{"
     "\"tmdb\":329865,\"imdb\":\"tt2543164\",\"tvdb\":169,\"plex\":\"10432\","
     "\"guid\":\"plex://movie/5d776a8b9ab544002150d2f3\"}}"},
    {{ITEM_MOVIE, NULL, 0, NULL, NULL, -1, -1, NULL},
     NULL,
     0,
     "{\"type\":\"movie\",\"ids\":{}}"},
    /* show fields are not written for movies */
    {{ITEM_MOVIE, "X", 2000, "trakt=1;simkl=2;anilist=3;mal=4;kitsu=5;anidb=6",
      "tvdb=73871", 1, 2, NULL},
     "Show",
     1999,
     "{\"type\":\"movie\",\"title\":\"X\",\"year\":2000,\"ids\":{\"trakt\":1,"
     "\"simkl\":2,\"anilist\":3,\"mal\":4,\"kitsu\":5,\"anidb\":6}}"},
    {{ITEM_EPISODE, "Good News About Hell", 2022,
      "imdb=tt11650492;tmdb=1960512;tvdb=8603573;plex=48211",
      "tmdb=95396;imdb=tt11280740", 1, 1, NULL},
     "Severance",
     2022,
     "{\"type\":\"episode\",\"title\":\"Good News About Hell\",\"year\":2022,"
     "\"ids\":{\"tmdb\":1960512,\"imdb\":\"tt11650492\",\"tvdb\":8603573,"
     "\"plex\":\"48211\"},\"show\":{\"title\":\"Severance\",\"year\":2022,"
     "\"ids\":{\"tmdb\":95396,\"imdb\":\"tt11280740\"}},\"season\":1,"
     "\"episode\":1}"},
    /* show omitted when it has nothing; season/episode omitted when -1 */
    {{ITEM_EPISODE, "Pilot", 0, "jellyfin=AB-CD;emby=77;slug=x", NULL, 0, -1,
      NULL},
     NULL,
     0,
     "{\"type\":\"episode\",\"title\":\"Pilot\",\"ids\":{\"jellyfin\":"
     "\"abcd\",\"emby\":\"77\",\"slug\":\"x\"},\"season\":0}"},
    {{ITEM_SEASON, NULL, 0, NULL, NULL, 3, -1, NULL},
     "Only A Title",
     0,
     "{\"type\":\"season\",\"ids\":{},\"show\":{\"title\":\"Only A Title\","
     "\"ids\":{}},\"season\":3}"},
    {{ITEM_EPISODE, NULL, 0, NULL, NULL, -1, -1, NULL},
     NULL,
     2010,
     "{\"type\":\"episode\",\"ids\":{},\"show\":{\"year\":2010,\"ids\":{}}}"},
};

static void
build_json_item(struct item *it, const struct json_case *c)
{
    build_item(it, &c->in);
    it->show_title = c->show_title ? xstrdup(c->show_title) : NULL;
    it->show_year = c->show_year;
}

static void
test_to_json(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_ELEMS(json_cases); i++) {
        struct item it;
        struct json_object *got, *want, *ids;

        build_json_item(&it, &json_cases[i]);
        got = item_to_json(&it);
        want = parse(json_cases[i].want);
        if (!json_object_equal(got, want))
            fail_msg("json case %zu:\n got  %s\n want %s", i,
                     jsonu_str(got, NULL), json_cases[i].want);
        /* numeric ids are JSON integers, the rest strings */
        assert_int_equal(jget_obj(got, "ids", &ids), 0);
        json_object_object_foreach (ids, name, val) {
            int id = item_id_from_name(name);

            assert_true(id >= 0);
            assert_true(json_object_is_type(
                val, item_id_is_numeric((enum item_id)id) ? json_type_int
                                                          : json_type_string));
        }
        json_object_put(got);
        json_object_put(want);
        item_release(&it);
    }
}

static void
assert_items_equal(const struct item *a, const struct item *b)
{
    char *da = describe(a), *db = describe(b);

    assert_string_equal(da, db);
    free(da);
    free(db);
    assert_int_equal(a->type, b->type);
    if (a->title == NULL || b->title == NULL)
        assert_ptr_equal(a->title, b->title);
    else
        assert_string_equal(a->title, b->title);
    assert_int_equal(a->year, b->year);
}

static void
test_json_round_trip(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_ELEMS(json_cases); i++) {
        struct item it, back;
        struct json_object *j1, *j2, *reparsed;
        char *k1, *k2;

        build_json_item(&it, &json_cases[i]);
        j1 = item_to_json(&it);
        reparsed = parse(jsonu_str(j1, NULL));
        assert_int_equal(item_from_json(&back, reparsed), 0);
        j2 = item_to_json(&back);
        if (!json_object_equal(j1, j2))
            fail_msg("round trip %zu:\n first  %s\n second %s", i,
                     jsonu_str(j1, NULL), jsonu_str(j2, NULL));
        if (it.type == ITEM_EPISODE || it.type == ITEM_SEASON) {
            assert_items_equal(&it, &back);
            if (it.show_title == NULL || back.show_title == NULL)
                assert_ptr_equal(it.show_title, back.show_title);
            else
                assert_string_equal(it.show_title, back.show_title);
            assert_int_equal(it.show_year, back.show_year);
        }
        k1 = item_key(&it);
        k2 = item_key(&back);
        if (it.type == ITEM_EPISODE || it.type == ITEM_SEASON)
            assert_string_equal(k1, k2);
        free(k1);
        free(k2);
        json_object_put(j1);
        json_object_put(j2);
        json_object_put(reparsed);
        item_release(&it);
        item_release(&back);
    }
}

static const struct from_case {
    const char *json;
    int rc;
    const char *want; /* describe() on success */
} from_cases[] = {
    {"{\"type\":\"movie\",\"ids\":{\"tmdb\":603}}", 0, "movie|tmdb=603||-1|-1"},
    /* ids optional; unknown members and id names ignored */
    {"{\"type\":\"movie\"}", 0, "movie|||-1|-1"},
    {"{\"type\":\"movie\",\"ids\":{\"tvrage\":5,\"tmdb\":1},\"extra\":[1]}", 0,
     "movie|tmdb=1||-1|-1"},
    /* season/episode/show ignored for movies */
    {"{\"type\":\"movie\",\"season\":1,\"show\":{\"ids\":{\"tvdb\":2}}}", 0,
     "movie|||-1|-1"},
    {"{\"type\":\"episode\",\"show\":{\"ids\":{\"tvdb\":2}},\"season\":1,"
     "\"episode\":2}",
     0, "episode||tvdb=2|1|2"},
    {"{\"type\":\"movie\",\"title\":null,\"year\":null}", 0, "movie|||-1|-1"},
    {"{\"type\":\"\",\"ids\":{}}", 0, "|||-1|-1"},
    /* rejections */
    {"[]", -1, NULL},
    {"{}", -1, NULL},
    {"{\"type\":5}", -1, NULL},
    {"{\"type\":\"clip\"}", -1, NULL},
    {"{\"type\":\"movie\",\"title\":5}", -1, NULL},
    {"{\"type\":\"movie\",\"year\":\"2016\"}", -1, NULL},
    {"{\"type\":\"movie\",\"year\":0}", -1, NULL},
    {"{\"type\":\"movie\",\"year\":2016.5}", -1, NULL},
    {"{\"type\":\"movie\",\"ids\":[]}", -1, NULL},
    {"{\"type\":\"movie\",\"ids\":{\"tmdb\":\"603\"}}", -1, NULL},
    {"{\"type\":\"movie\",\"ids\":{\"tmdb\":0}}", -1, NULL},
    {"{\"type\":\"movie\",\"ids\":{\"tmdb\":-5}}", -1, NULL},
    {"{\"type\":\"movie\",\"ids\":{\"tmdb\":1.5}}", -1, NULL},
    {"{\"type\":\"movie\",\"ids\":{\"imdb\":123}}", -1, NULL},
    {"{\"type\":\"movie\",\"ids\":{\"imdb\":\"123\"}}", -1, NULL},
    {"{\"type\":\"movie\",\"ids\":{\"plex\":\"\"}}", -1, NULL},
    {"{\"type\":\"episode\",\"show\":[]}", -1, NULL},
    {"{\"type\":\"episode\",\"show\":{\"ids\":{\"tvdb\":\"x\"}}}", -1, NULL},
    {"{\"type\":\"episode\",\"show\":{\"title\":1}}", -1, NULL},
    {"{\"type\":\"episode\",\"season\":-1}", -1, NULL},
    {"{\"type\":\"episode\",\"season\":\"1\"}", -1, NULL},
    {"{\"type\":\"episode\",\"episode\":true}", -1, NULL},
};

static void
test_from_json(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_ELEMS(from_cases); i++) {
        struct json_object *o = parse(from_cases[i].json);
        struct item it;
        int rc = item_from_json(&it, o);

        if (rc != from_cases[i].rc)
            fail_msg("from_json case %zu (%s): rc %d", i, from_cases[i].json,
                     rc);
        if (rc == 0) {
            char *d = describe(&it);

            if (strcmp(d, from_cases[i].want) != 0)
                fail_msg("from_json case %zu: %s, want %s", i, d,
                         from_cases[i].want);
            free(d);
        } else {
            /* initialized either way: releasing is safe, nothing is set */
            assert_null(it.title);
            assert_true(item_ids_empty(&it.ids));
        }
        item_release(&it);
        json_object_put(o);
    }
}

static void
test_copy(void **state)
{
    struct item a, b;
    char *ka, *kb;

    (void)state;
    build_json_item(&a, &json_cases[3]);
    item_copy(&b, &a);
    ka = item_key(&a);
    kb = item_key(&b);
    assert_string_equal(ka, kb);
    assert_ptr_not_equal(a.title, b.title);
    assert_ptr_not_equal(a.ids.v[ITEM_ID_TMDB], b.ids.v[ITEM_ID_TMDB]);
    assert_ptr_not_equal(a.show_ids.v[ITEM_ID_TMDB],
                         b.show_ids.v[ITEM_ID_TMDB]);
    assert_string_equal(a.show_title, b.show_title);
    assert_int_equal(b.season, 1);
    assert_int_equal(b.episode, 1);
    item_release(&a);
    /* the copy survives the original */
    assert_string_equal(b.title, "Good News About Hell");
    assert_string_equal(b.show_ids.v[ITEM_ID_TMDB], "95396");
    item_release(&b);
    /* released items are reset and can be released again */
    assert_null(b.title);
    assert_int_equal(b.season, -1);
    item_release(&b);
    free(ka);
    free(kb);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_normalize),
        cmocka_unit_test(test_normalize_misc),
        cmocka_unit_test(test_guid),
        cmocka_unit_test(test_guid_accumulates),
        cmocka_unit_test(test_key),
        cmocka_unit_test(test_to_json),
        cmocka_unit_test(test_json_round_trip),
        cmocka_unit_test(test_from_json),
        cmocka_unit_test(test_copy),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
