/* Query matching over words: an exact, faster form of MetaCLIP's substring rule.
 *
 * MetaCLIP matches query q when " " + q + " " is a substring of the spaced text (see core.py). Both strings
 * then start and end with a space, so a match is a run of whole space-separated tokens: q.split(" ") equals
 * the tokens text.split(" ")[j..j+k-1] for some j, with every token bounded by a space on each side (empty
 * tokens, from double spaces, included). So the list is a trie over token ids, and a text costs one hash
 * lookup per token plus one edge lookup per step down the trie, instead of one automaton step per byte:
 * the 500k-query byte automaton does not fit in cache, and each of its steps is a memory miss.
 *
 * Exactness: tokens are compared byte for byte (the hash only picks the slot); UTF-8 is a prefix code and the
 * spacing touches only ASCII bytes, so byte tokens and character tokens split at the same places. Strings
 * are encoded with "surrogatepass", so a lone surrogate is a character like any other.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    uint64_t hash;
    uint32_t off, len;  /* the token's bytes in the arena */
    int32_t id;         /* -1: empty slot */
    int32_t pad;
} TokenSlot;

typedef struct {
    uint64_t key;  /* parent node << 32 | token id; UINT64_MAX: empty slot */
    int32_t child;
    int32_t pad;
} EdgeSlot;

typedef struct {
    PyObject_HEAD
    TokenSlot *tokens; size_t tok_cap, tok_count;
    char *arena; size_t arena_len, arena_cap;
    EdgeSlot *edges; size_t edge_cap, edge_count;
    int32_t *node_qid;      /* first query id ending at a node, -1 when none */
    uint8_t *node_inner;    /* 1 when a node has children: the walk stops early at leaves */
    size_t n_nodes, node_cap;
    int32_t *qid_next;      /* the next query id with the same string (duplicates), -1 at the end */
    size_t n_queries;
} Matcher;

/* Buffers of one match or match_many call, reused across its texts. Per call, not per matcher: the tables
 * are read-only after init, so threads may share one matcher (Beam's Shared handle does), and a call can
 * lose the GIL mid-way (an allocation may run the garbage collector, whose finalizers may switch threads). */
typedef struct {
    char *spaced; size_t spaced_cap;
    int32_t *tids; size_t tids_cap;
    int32_t *found; size_t found_cap;
} Scratch;

static void scratch_free(Scratch *b) {
    PyMem_Free(b->spaced); PyMem_Free(b->tids); PyMem_Free(b->found);
}

static inline uint64_t hash_bytes(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ULL;  /* FNV-1a, then a final mix: tokens are short */
    for (size_t i = 0; i < n; i++) { h ^= (unsigned char)s[i]; h *= 1099511628211ULL; }
    h ^= h >> 32; h *= 0x9E3779B97F4A7C15ULL; h ^= h >> 29;
    return h;
}

static inline uint64_t mix64(uint64_t k) {
    k ^= k >> 33; k *= 0xff51afd7ed558ccdULL; k ^= k >> 33; k *= 0xc4ceb9fe1a85ec53ULL; k ^= k >> 33;
    return k;
}

static int grow(void **buf, size_t *cap, size_t need, size_t item) {
    if (need <= *cap) return 0;
    size_t cap2 = *cap ? *cap : 64;
    while (cap2 < need) cap2 *= 2;
    void *p = PyMem_Realloc(*buf, cap2 * item);
    if (!p) { PyErr_NoMemory(); return -1; }
    *buf = p; *cap = cap2;
    return 0;
}

static inline int32_t token_lookup(const Matcher *m, const char *s, size_t n, uint64_t h) {
    size_t mask = m->tok_cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        const TokenSlot *t = &m->tokens[i];
        if (t->id < 0) return -1;
        if (t->hash == h && t->len == n && memcmp(m->arena + t->off, s, n) == 0) return t->id;
    }
}

static inline int32_t edge_lookup(const Matcher *m, uint32_t node, int32_t tid) {
    uint64_t key = ((uint64_t)node << 32) | (uint32_t)tid;
    size_t mask = m->edge_cap - 1;
    for (size_t i = mix64(key) & mask;; i = (i + 1) & mask) {
        const EdgeSlot *e = &m->edges[i];
        if (e->key == key) return e->child;
        if (e->key == UINT64_MAX) return -1;
    }
}

static int rehash_tokens(Matcher *m, size_t cap) {
    TokenSlot *t = PyMem_Malloc(cap * sizeof(TokenSlot));
    if (!t) { PyErr_NoMemory(); return -1; }
    for (size_t i = 0; i < cap; i++) t[i].id = -1;
    for (size_t i = 0; i < m->tok_cap; i++) {
        if (m->tokens[i].id < 0) continue;
        size_t j = m->tokens[i].hash & (cap - 1);
        while (t[j].id >= 0) j = (j + 1) & (cap - 1);
        t[j] = m->tokens[i];
    }
    PyMem_Free(m->tokens);
    m->tokens = t; m->tok_cap = cap;
    return 0;
}

static int rehash_edges(Matcher *m, size_t cap) {
    EdgeSlot *e = PyMem_Malloc(cap * sizeof(EdgeSlot));
    if (!e) { PyErr_NoMemory(); return -1; }
    for (size_t i = 0; i < cap; i++) e[i].key = UINT64_MAX;
    for (size_t i = 0; i < m->edge_cap; i++) {
        if (m->edges[i].key == UINT64_MAX) continue;
        size_t j = mix64(m->edges[i].key) & (cap - 1);
        while (e[j].key != UINT64_MAX) j = (j + 1) & (cap - 1);
        e[j] = m->edges[i];
    }
    PyMem_Free(m->edges);
    m->edges = e; m->edge_cap = cap;
    return 0;
}

/* The id of a token, added when new; -1 with an exception set on failure. */
static int32_t token_add(Matcher *m, const char *s, size_t n) {
    uint64_t h = hash_bytes(s, n);
    int32_t id = token_lookup(m, s, n, h);
    if (id >= 0) return id;
    if ((m->tok_count + 1) * 2 > m->tok_cap && rehash_tokens(m, m->tok_cap * 2) < 0) return -1;
    if (m->tok_count >= INT32_MAX || m->arena_len + n > UINT32_MAX) {
        PyErr_SetString(PyExc_OverflowError, "query list too large"); return -1;
    }
    if (grow((void **)&m->arena, &m->arena_cap, m->arena_len + n + 1, 1) < 0) return -1;
    memcpy(m->arena + m->arena_len, s, n);
    size_t i = h & (m->tok_cap - 1);
    while (m->tokens[i].id >= 0) i = (i + 1) & (m->tok_cap - 1);
    m->tokens[i] = (TokenSlot){h, (uint32_t)m->arena_len, (uint32_t)n, (int32_t)m->tok_count, 0};
    m->arena_len += n;
    return (int32_t)m->tok_count++;
}

static int32_t node_new(Matcher *m) {
    if (m->n_nodes >= INT32_MAX) { PyErr_SetString(PyExc_OverflowError, "query list too large"); return -1; }
    size_t cap = m->node_cap;
    if (grow((void **)&m->node_qid, &cap, m->n_nodes + 1, sizeof(int32_t)) < 0) return -1;
    cap = m->node_cap;
    if (grow((void **)&m->node_inner, &cap, m->n_nodes + 1, 1) < 0) return -1;
    m->node_cap = cap;
    m->node_qid[m->n_nodes] = -1;
    m->node_inner[m->n_nodes] = 0;
    return (int32_t)m->n_nodes++;
}

static int32_t edge_add(Matcher *m, int32_t node, int32_t tid) {
    int32_t child = edge_lookup(m, (uint32_t)node, tid);
    if (child >= 0) return child;
    if ((m->edge_count + 1) * 2 > m->edge_cap && rehash_edges(m, m->edge_cap * 2) < 0) return -1;
    if ((child = node_new(m)) < 0) return -1;
    uint64_t key = ((uint64_t)(uint32_t)node << 32) | (uint32_t)tid;
    size_t i = mix64(key) & (m->edge_cap - 1);
    while (m->edges[i].key != UINT64_MAX) i = (i + 1) & (m->edge_cap - 1);
    m->edges[i] = (EdgeSlot){key, child, 0};
    m->edge_count++;
    m->node_inner[node] = 1;
    return child;
}

/* UTF-8 of a str, "surrogatepass" when it holds a lone surrogate; *owner keeps a bytes object alive. */
static const char *utf8_of(PyObject *s, Py_ssize_t *n, PyObject **owner) {
    *owner = NULL;
    if (!PyUnicode_Check(s)) {
        PyErr_Format(PyExc_TypeError, "expected str, got %.100s", Py_TYPE(s)->tp_name);
        return NULL;
    }
    const char *p = PyUnicode_AsUTF8AndSize(s, n);
    if (p) return p;
    if (!PyErr_ExceptionMatches(PyExc_UnicodeEncodeError)) return NULL;
    PyErr_Clear();
    *owner = PyUnicode_AsEncodedString(s, "utf-8", "surrogatepass");
    if (!*owner) return NULL;
    *n = PyBytes_GET_SIZE(*owner);
    return PyBytes_AS_STRING(*owner);
}

static void matcher_dealloc(Matcher *m) {
    PyMem_Free(m->tokens); PyMem_Free(m->arena); PyMem_Free(m->edges);
    PyMem_Free(m->node_qid); PyMem_Free(m->node_inner); PyMem_Free(m->qid_next);
    Py_TYPE(m)->tp_free((PyObject *)m);
}

static int matcher_init(Matcher *m, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"queries", NULL};
    PyObject *queries;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O", kwlist, &queries)) return -1;
    if (m->tokens) { PyErr_SetString(PyExc_RuntimeError, "already initialised"); return -1; }
    PyObject *seq = PySequence_Fast(queries, "queries must be a sequence of str");
    if (!seq) return -1;
    Py_ssize_t nq = PySequence_Fast_GET_SIZE(seq);
    int rc = -1;
    m->tok_cap = 1024; m->edge_cap = 1024;
    m->tokens = PyMem_Malloc(m->tok_cap * sizeof(TokenSlot));
    m->edges = PyMem_Malloc(m->edge_cap * sizeof(EdgeSlot));
    m->qid_next = PyMem_Malloc((nq ? nq : 1) * sizeof(int32_t));
    if (!m->tokens || !m->edges || !m->qid_next) { PyErr_NoMemory(); goto done; }
    for (size_t i = 0; i < m->tok_cap; i++) m->tokens[i].id = -1;
    for (size_t i = 0; i < m->edge_cap; i++) m->edges[i].key = UINT64_MAX;
    if (nq >= INT32_MAX) { PyErr_SetString(PyExc_OverflowError, "query list too large"); goto done; }
    if (node_new(m) < 0) goto done;  /* the root */
    for (Py_ssize_t q = 0; q < nq; q++) {
        Py_ssize_t n;
        PyObject *owner;
        const char *s = utf8_of(PySequence_Fast_GET_ITEM(seq, q), &n, &owner);
        if (!s) goto done;
        int32_t node = 0;
        Py_ssize_t start = 0;
        for (Py_ssize_t i = 0; i <= n; i++) {  /* q.split(" "): the tokens between spaces, empty ones too */
            if (i < n && s[i] != ' ') continue;
            int32_t tid = token_add(m, s + start, (size_t)(i - start));
            if (tid < 0 || (node = edge_add(m, node, tid)) < 0) { Py_XDECREF(owner); goto done; }
            start = i + 1;
        }
        Py_XDECREF(owner);
        m->qid_next[q] = m->node_qid[node];  /* duplicates chain; the ids are sorted on output */
        m->node_qid[node] = (int32_t)q;
    }
    m->n_queries = (size_t)nq;
    rc = 0;
done:
    Py_DECREF(seq);
    return rc;
}

static int cmp_int32(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* Sorted, distinct ids of the queries one text matches, as a new list. */
static PyObject *match_one(const Matcher *m, Scratch *b, PyObject *text) {
    Py_ssize_t n;
    PyObject *owner;
    const char *s = utf8_of(text, &n, &owner);
    if (!s) return NULL;
    PyObject *result = NULL;
    /* MetaCLIP's spacing, on bytes: pad with spaces, wrap , . ; : ? ! ` in spaces, \t \n \r to spaces */
    if (grow((void **)&b->spaced, &b->spaced_cap, (size_t)n * 3 + 2, 1) < 0) goto done;
    char *sp = b->spaced;
    size_t len = 0;
    sp[len++] = ' ';
    for (Py_ssize_t i = 0; i < n; i++) {
        char c = s[i];
        switch (c) {
        case ',': case '.': case ';': case ':': case '?': case '!': case '`':
            sp[len++] = ' '; sp[len++] = c; sp[len++] = ' '; break;
        case '\t': case '\n': case '\r':
            sp[len++] = ' '; break;
        default:
            sp[len++] = c;
        }
    }
    sp[len++] = ' ';
    /* token ids of the tokens bounded by spaces on both sides; -1 for a token no query has */
    size_t nt = 0;
    if (grow((void **)&b->tids, &b->tids_cap, len, sizeof(int32_t)) < 0) goto done;
    int32_t *tids = b->tids;
    size_t start = 1;
    for (size_t i = 1; i < len; i++) {
        if (sp[i] != ' ') continue;
        tids[nt++] = token_lookup(m, sp + start, i - start, hash_bytes(sp + start, i - start));
        start = i + 1;
    }
    size_t nf = 0;
    for (size_t j = 0; j < nt; j++) {
        uint32_t node = 0;
        for (size_t k = j; k < nt && tids[k] >= 0; k++) {
            int32_t child = edge_lookup(m, node, tids[k]);
            if (child < 0) break;
            node = (uint32_t)child;
            for (int32_t q = m->node_qid[node]; q >= 0; q = m->qid_next[q]) {
                if (nf == b->found_cap && grow((void **)&b->found, &b->found_cap, nf + 1, sizeof(int32_t)) < 0)
                    goto done;
                b->found[nf++] = q;
            }
            if (!m->node_inner[node]) break;
        }
    }
    int32_t *found = b->found;
    if (nf > 1) qsort(found, nf, sizeof(int32_t), cmp_int32);
    size_t distinct = 0;
    for (size_t i = 0; i < nf; i++)
        if (i == 0 || found[i] != found[i - 1]) found[distinct++] = found[i];
    if (!(result = PyList_New((Py_ssize_t)distinct))) goto done;
    for (size_t i = 0; i < distinct; i++) {
        PyObject *v = PyLong_FromLong(found[i]);
        if (!v) { Py_CLEAR(result); goto done; }
        PyList_SET_ITEM(result, (Py_ssize_t)i, v);
    }
done:
    Py_XDECREF(owner);
    return result;
}

static PyObject *matcher_match(Matcher *m, PyObject *text) {
    if (!m->tokens) { PyErr_SetString(PyExc_RuntimeError, "matcher not initialised"); return NULL; }
    Scratch b = {0};
    PyObject *result = match_one(m, &b, text);
    scratch_free(&b);
    return result;
}

static PyObject *matcher_match_many(Matcher *m, PyObject *texts) {
    if (!m->tokens) { PyErr_SetString(PyExc_RuntimeError, "matcher not initialised"); return NULL; }
    PyObject *seq = PySequence_Fast(texts, "texts must be a sequence of str");
    if (!seq) return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    PyObject *out = PyList_New(n);
    Scratch b = {0};
    for (Py_ssize_t i = 0; out && i < n; i++) {
        PyObject *ids = match_one(m, &b, PySequence_Fast_GET_ITEM(seq, i));
        if (!ids) Py_CLEAR(out);
        else PyList_SET_ITEM(out, i, ids);
    }
    scratch_free(&b);
    Py_DECREF(seq);
    return out;
}

static PyObject *matcher_nbytes(Matcher *m, void *closure) {
    size_t total = m->tok_cap * sizeof(TokenSlot) + m->arena_cap + m->edge_cap * sizeof(EdgeSlot)
                   + m->node_cap * (sizeof(int32_t) + 1) + m->n_queries * sizeof(int32_t);
    return PyLong_FromSize_t(total);
}

static PyObject *matcher_len(Matcher *m, void *closure) { return PyLong_FromSize_t(m->n_queries); }
static PyObject *matcher_ntokens(Matcher *m, void *closure) { return PyLong_FromSize_t(m->tok_count); }
static PyObject *matcher_nnodes(Matcher *m, void *closure) { return PyLong_FromSize_t(m->n_nodes); }

static PyMethodDef matcher_methods[] = {
    {"match", (PyCFunction)matcher_match, METH_O, "match(text) -> sorted ids of the queries the text matches"},
    {"match_many", (PyCFunction)matcher_match_many, METH_O, "match_many(texts) -> a list of match(text)"},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef matcher_getset[] = {
    {"nbytes", (getter)matcher_nbytes, NULL, "bytes held by the tables", NULL},
    {"n_queries", (getter)matcher_len, NULL, "queries in the list", NULL},
    {"n_tokens", (getter)matcher_ntokens, NULL, "distinct tokens of the queries", NULL},
    {"n_nodes", (getter)matcher_nnodes, NULL, "trie nodes, the root included", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject MatcherType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "transforms.match._tokenmatch.TokenMatcher",
    .tp_basicsize = sizeof(Matcher),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "TokenMatcher(queries): MetaCLIP's matching as a trie over space-separated tokens",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)matcher_init,
    .tp_dealloc = (destructor)matcher_dealloc,
    .tp_methods = matcher_methods,
    .tp_getset = matcher_getset,
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_tokenmatch", "MetaCLIP's query matching over tokens (see core.py)", -1,
    NULL, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__tokenmatch(void) {
    if (PyType_Ready(&MatcherType) < 0) return NULL;
    PyObject *mod = PyModule_Create(&module);
    if (!mod) return NULL;
    Py_INCREF(&MatcherType);
    if (PyModule_AddObject(mod, "TokenMatcher", (PyObject *)&MatcherType) < 0) {
        Py_DECREF(&MatcherType); Py_DECREF(mod); return NULL;
    }
    return mod;
}
