/* _gzwarc: WARC records out of gzip members, inflated with libdeflate (third_party/libdeflate, MIT).
 *
 * Common Crawl compresses each WARC, WAT and WET record as a gzip member of its own. The reader needs only
 * a few records of a WAT (those holding an image link, and the language record after them), so this module
 * does in C what costs the most per record: inflating the member (libdeflate: about 2x zlib here), finding
 * the record header and its Content-Length, and looking for a few byte strings ("needles") in the block.
 * Only records holding a needle come back to Python, with the header values asked for and the block.
 *
 * Scanner(max_member).scan(data, final, needles, names) -> (records, used, count, stop)
 *   data     bytes-like, starting at a gzip member; final: no more data follows
 *   records  [(n, member_start, sub, values, block, needle, position)]: n counts records from 0 in this
 *            call; member_start is relative to data; sub numbers the records inside one member; values
 *            are the first value of each header in `names` (str, or None); needle: the index of the first
 *            needle (in the order given) the block holds, found at `position`; later needles are not
 *            looked for
 *   used     bytes of data fully handled: every member before it was read
 *   count    records read in this call
 *   stop     why it stopped at `used`: END (all of data), INFLATE (the member does not inflate: cut short
 *            by the end of data, or corrupt), TOO_LARGE (inflates past max_member), NOT_GZIP, LAYOUT (a
 *            member that is not whole WARC records with CRLF headers, such as a record cut across members)
 * Everything from `used` on is the caller's to read another way (FastWARC, which reports damage), so the
 * records of a member are given all or none.
 *
 * One call gives back about MAX_RETURNED block bytes or MAX_RECORDS records at most: it then stops at a member boundary (stop END
 * with data left), so a small, highly compressed input cannot fill memory.
 *
 * Scanner.resync(data, start): the next gzip header, and whether a whole member holding a WARC record starts
 * there: where to go on past a corrupt member.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

#include "libdeflate.h"

enum { STOP_END = 0, STOP_INFLATE = 1, STOP_TOO_LARGE = 2, STOP_NOT_GZIP = 3, STOP_LAYOUT = 4 };
enum { MEMBER_OK = 0, MEMBER_LAYOUT = 1, MEMBER_ERROR = -1 };
#define MAX_STRINGS 16  /* needles, and header names */
#define FIRST_CAPACITY (1u << 20)
#define MAX_RETURNED ((size_t)32 << 20)  /* block bytes one scan() call gives back, at most (about) */
#define MAX_RECORDS 65536  /* and records */

typedef struct {
    PyObject_HEAD
    struct libdeflate_decompressor *inflater;
    unsigned char *out;
    size_t capacity, max_member;
    int busy;  /* a call is under way (with the GIL released): a second thread must not use the buffers */
} Scanner;

static int
ready(Scanner *self)
{
    if (self->inflater == NULL || self->out == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Scanner.__init__ was not called");
        return 0;
    }
    if (self->busy) {
        PyErr_SetString(PyExc_RuntimeError, "a Scanner serves one thread at a time: make one per file");
        return 0;
    }
    return 1;
}

typedef struct {
    const char *bytes[MAX_STRINGS];
    Py_ssize_t len[MAX_STRINGS];
    Py_ssize_t n;
} Strings;

static int
load_strings(PyObject *seq, Strings *s, const char *what)
{
    if (!PyTuple_Check(seq)) {
        PyErr_Format(PyExc_TypeError, "%s must be a tuple of bytes", what);
        return -1;
    }
    s->n = PyTuple_GET_SIZE(seq);
    if (s->n > MAX_STRINGS) {
        PyErr_Format(PyExc_ValueError, "at most %d %s", MAX_STRINGS, what);
        return -1;
    }
    for (Py_ssize_t i = 0; i < s->n; i++) {
        PyObject *item = PyTuple_GET_ITEM(seq, i);
        if (!PyBytes_Check(item) || PyBytes_GET_SIZE(item) == 0) {
            PyErr_Format(PyExc_TypeError, "%s must be non-empty bytes", what);
            return -1;
        }
        s->bytes[i] = PyBytes_AS_STRING(item);
        s->len[i] = PyBytes_GET_SIZE(item);
    }
    return 0;
}

static int
same_name(const unsigned char *a, size_t n, const char *b, size_t m)
{
    if (n != m)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char x = a[i], y = (unsigned char)b[i];
        if (x >= 'A' && x <= 'Z') x += 32;
        if (y >= 'A' && y <= 'Z') y += 32;
        if (x != y)
            return 0;
    }
    return 1;
}

static int
is_blank(unsigned char c)
{
    return c == ' ' || c == '\t';
}

static int
is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* "WARC/1.0" or "WARC/1.1", then blanks, up to `line_end` (its CRLF): the versions FastWARC reads. */
static int
version_line(const unsigned char *line, const unsigned char *limit)
{
    const unsigned char *line_end = memmem(line, (size_t)(limit - line), "\r\n", 2);
    if (line_end == NULL || line_end - line < 8 || memcmp(line, "WARC/1.", 7) != 0 || (line[7] != '0' && line[7] != '1'))
        return 0;
    for (const unsigned char *c = line + 8; c < line_end; c++)
        if (!is_blank(*c))
            return 0;
    return 1;
}

/* The records of one inflated member, appended to `records` (their block bytes added to *returned);
 * MEMBER_LAYOUT when it is not whole records. */
static int
read_member(const unsigned char *out, size_t out_len, Py_ssize_t member_start, const Strings *needles,
            const Strings *names, PyObject *records, Py_ssize_t *count, size_t *returned)
{
    size_t p = 0;
    Py_ssize_t sub = 0;
    for (;;) {
        while (p < out_len && (out[p] == '\r' || out[p] == '\n'))
            p++;
        if (p >= out_len)
            return MEMBER_OK;
        const unsigned char *end = memmem(out + p, out_len - p, "\r\n\r\n", 4);
        if (end == NULL || !version_line(out + p, end + 2))
            return MEMBER_LAYOUT;
        const unsigned char *value_at[MAX_STRINGS] = {0};
        size_t value_len[MAX_STRINGS] = {0};
        long long length = -1;
        /* Header lines end at CRLF (a lone LF is part of a value, as FastWARC reads it); the last one ends at
         * end + 2. A folded line (one starting with a blank) is left to FastWARC. */
        const unsigned char *line = (const unsigned char *)memmem(out + p, (size_t)(end + 2 - (out + p)), "\r\n", 2) + 2;
        while (line < end + 2) {
            const unsigned char *line_end = memmem(line, (size_t)(end + 2 - line), "\r\n", 2);
            if (is_blank(*line))
                return MEMBER_LAYOUT;
            const unsigned char *colon = memchr(line, ':', (size_t)(line_end - line));
            if (colon != NULL) {
                const unsigned char *name_end = colon;
                while (name_end > line && is_space(name_end[-1]))
                    name_end--;
                const unsigned char *v = colon + 1, *v_end = line_end;
                while (v < v_end && is_space(*v)) v++;
                while (v_end > v && is_space(v_end[-1])) v_end--;
                size_t name_len = (size_t)(name_end - line);
                if (same_name(line, name_len, "Content-Length", 14)) {
                    if (length >= 0 || v == v_end)
                        return MEMBER_LAYOUT;  /* two lengths, or an empty one: FastWARC decides */
                    length = 0;
                    for (const unsigned char *d = v; d < v_end; d++) {
                        if (*d < '0' || *d > '9' || length > (1LL << 50))
                            return MEMBER_LAYOUT;
                        length = length * 10 + (*d - '0');
                    }
                }
                for (Py_ssize_t i = 0; i < names->n; i++) {
                    if (value_at[i] == NULL && same_name(line, name_len, names->bytes[i], (size_t)names->len[i])) {
                        value_at[i] = v;
                        value_len[i] = (size_t)(v_end - v);
                    }
                }
            }
            line = line_end + 2;
        }
        size_t block_at = (size_t)(end + 4 - out);
        if (length < 0 || (unsigned long long)length > out_len - block_at)
            return MEMBER_LAYOUT;  /* no length, or the block goes on past this member */
        const unsigned char *block = out + block_at;
        Py_ssize_t found = -1, position = -1;  /* the first needle in the block, and where */
        for (Py_ssize_t i = 0; i < needles->n && found < 0; i++) {
            const unsigned char *at = memmem(block, (size_t)length, needles->bytes[i], (size_t)needles->len[i]);
            if (at != NULL) {
                found = i;
                position = (Py_ssize_t)(at - block);
            }
        }
        if (found >= 0) {
            PyObject *values = PyTuple_New(names->n), *item = NULL;
            if (values == NULL)
                goto fail;
            for (Py_ssize_t i = 0; i < names->n; i++) {
                PyObject *v = Py_None;
                if (value_at[i] != NULL) {
                    v = PyUnicode_DecodeUTF8((const char *)value_at[i], (Py_ssize_t)value_len[i], "replace");
                    if (v == NULL)
                        goto fail;
                } else {
                    Py_INCREF(v);
                }
                PyTuple_SET_ITEM(values, i, v);
            }
            item = Py_BuildValue("(nnnNy#nn)", *count, member_start, sub, values,
                                 (const char *)block, (Py_ssize_t)length, found, position);
            values = NULL;  /* Py_BuildValue's N took it, also when it failed */
            if (item == NULL || PyList_Append(records, item) < 0)
                goto fail;
            Py_DECREF(item);
            *returned += (size_t)length;
            goto next;
          fail:
            Py_XDECREF(values);
            Py_XDECREF(item);
            return MEMBER_ERROR;
        }
      next:
        (*count)++;
        sub++;
        p = block_at + (size_t)length;
    }
}

static PyObject *
Scanner_scan(Scanner *self, PyObject *args)
{
    Py_buffer data;
    int final;
    PyObject *needle_tuple, *name_tuple;
    if (!ready(self) || !PyArg_ParseTuple(args, "y*pOO", &data, &final, &needle_tuple, &name_tuple))
        return NULL;
    Strings needles, names;
    PyObject *records = NULL;
    if (load_strings(needle_tuple, &needles, "needles") < 0 || load_strings(name_tuple, &names, "names") < 0)
        goto error;
    records = PyList_New(0);
    if (records == NULL)
        goto error;
    const unsigned char *in = data.buf;
    size_t len = (size_t)data.len, pos = 0;
    Py_ssize_t count = 0;
    size_t returned = 0;  /* block bytes in `records` */
    int stop = STOP_END;
    while (pos < len) {
        if (len - pos < 2 || in[pos] != 0x1f || in[pos + 1] != 0x8b) {
            stop = len - pos < 2 && !final ? STOP_INFLATE : STOP_NOT_GZIP;
            break;
        }
        size_t in_used = 0, out_len = 0;
        enum libdeflate_result result;
        for (;;) {
            self->busy = 1;
            Py_BEGIN_ALLOW_THREADS
            result = libdeflate_gzip_decompress_ex(self->inflater, in + pos, len - pos, self->out, self->capacity,
                                                   &in_used, &out_len);
            Py_END_ALLOW_THREADS
            self->busy = 0;
            if (result != LIBDEFLATE_INSUFFICIENT_SPACE || self->capacity >= self->max_member)
                break;
            size_t bigger = self->capacity * 2 < self->max_member ? self->capacity * 2 : self->max_member;
            unsigned char *grown = PyMem_Realloc(self->out, bigger);
            if (grown == NULL) {
                PyErr_NoMemory();
                goto error;
            }
            self->out = grown;
            self->capacity = bigger;
        }
        if (result == LIBDEFLATE_INSUFFICIENT_SPACE) {
            stop = STOP_TOO_LARGE;
            break;
        }
        if (result != LIBDEFLATE_SUCCESS) {
            stop = STOP_INFLATE;
            break;
        }
        Py_ssize_t kept = PyList_GET_SIZE(records), counted = count;
        size_t returned_before = returned;
        int member = read_member(self->out, out_len, (Py_ssize_t)pos, &needles, &names, records, &count,
                                 &returned);
        if (member == MEMBER_ERROR)
            goto error;
        if (member == MEMBER_LAYOUT) {  /* all or none of a member: the caller reads it again */
            if (PyList_SetSlice(records, kept, PyList_GET_SIZE(records), NULL) < 0)
                goto error;
            count = counted;
            returned = returned_before;
            stop = STOP_LAYOUT;
            break;
        }
        pos += in_used;
        if (returned >= MAX_RETURNED || PyList_GET_SIZE(records) >= MAX_RECORDS)
            break;  /* enough for one call: highly compressed blocks must not pile up (stop END, data left) */
    }
    PyBuffer_Release(&data);
    return Py_BuildValue("(Nnni)", records, (Py_ssize_t)pos, count, stop);
  error:
    Py_XDECREF(records);
    PyBuffer_Release(&data);
    return NULL;
}

static int
Scanner_init(Scanner *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"max_member", NULL};
    Py_ssize_t max_member = 64 << 20;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|n", kwlist, &max_member))
        return -1;
    if (max_member < 1024) {
        PyErr_SetString(PyExc_ValueError, "max_member must be at least 1024 bytes");
        return -1;
    }
    if (self->inflater == NULL && (self->inflater = libdeflate_alloc_decompressor()) == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    if (self->busy) {
        PyErr_SetString(PyExc_RuntimeError, "the Scanner is in use");
        return -1;
    }
    self->max_member = (size_t)max_member;
    size_t first = FIRST_CAPACITY < self->max_member ? FIRST_CAPACITY : self->max_member;
    PyMem_Free(self->out);  /* a second __init__ starts afresh */
    if ((self->out = PyMem_Malloc(first)) == NULL) {
        self->capacity = 0;
        PyErr_NoMemory();
        return -1;
    }
    self->capacity = first;
    return 0;
}

static void
Scanner_dealloc(Scanner *self)
{
    if (self->inflater != NULL)
        libdeflate_free_decompressor(self->inflater);
    PyMem_Free(self->out);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* The first gzip header (1f 8b 08) from `start` on: (offset, 1) when a whole member starts there that holds
 * a WARC record (or one too large to inflate here: scan() tells), (offset, 0) when what starts there does not
 * inflate, which the caller judges (bad, or cut short by the end of `data`), (-1, 0) when there is none.
 * Meant for WAT files: their records are JSON text, which cannot hold a gzip member's bytes, so a header found
 * inside a corrupt member is never a nested archive's. */
static PyObject *
Scanner_resync(Scanner *self, PyObject *args)
{
    Py_buffer data;
    Py_ssize_t start;
    if (!ready(self) || !PyArg_ParseTuple(args, "y*n", &data, &start))
        return NULL;
    const unsigned char *in = data.buf;
    size_t len = (size_t)data.len, pos = start > 0 ? (size_t)start : 0;
    Py_ssize_t found = -1;
    int state = 0;
    self->busy = 1;
    Py_BEGIN_ALLOW_THREADS
    const unsigned char *at = pos + 3 <= len ? memmem(in + pos, len - pos, "\x1f\x8b\x08", 3) : NULL;
    if (at != NULL) {
        pos = (size_t)(at - in);
        size_t in_used = 0, out_len = 0;
        enum libdeflate_result result = libdeflate_gzip_decompress_ex(
            self->inflater, in + pos, len - pos, self->out, self->capacity, &in_used, &out_len);
        size_t skip = 0;
        while (skip < out_len && (self->out[skip] == '\r' || self->out[skip] == '\n'))
            skip++;
        found = (Py_ssize_t)pos;
        if (result == LIBDEFLATE_INSUFFICIENT_SPACE)
            state = 1;  /* too big to check here: scan() will tell */
        else if (result == LIBDEFLATE_SUCCESS)  /* whole: is it a WARC record (1) or not a place to go on (-1) */
            state = out_len - skip >= 5 && memcmp(self->out + skip, "WARC/", 5) == 0 ? 1 : -1;
    }
    Py_END_ALLOW_THREADS
    self->busy = 0;
    PyBuffer_Release(&data);
    return Py_BuildValue("(ni)", found, state);
}

static PyMethodDef Scanner_methods[] = {
    {"scan", (PyCFunction)Scanner_scan, METH_VARARGS,
     "scan(data, final, needles, names) -> (records, used, count, stop); see the module's docstring."},
    {"resync", (PyCFunction)Scanner_resync, METH_VARARGS,
     "resync(data, start) -> (offset, state) of the first gzip header from start on: state 1, a whole member "
     "holding a WARC record; 0, it does not inflate (bad, or cut short by the end of data); -1, a whole "
     "member without a WARC record; offset -1: no header."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject ScannerType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "transforms.crawl._gzwarc.Scanner",
    .tp_basicsize = sizeof(Scanner),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Reads WARC records out of gzip members (one object per file being read: not thread-safe).",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Scanner_init,
    .tp_dealloc = (destructor)Scanner_dealloc,
    .tp_methods = Scanner_methods,
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_gzwarc",
    "WARC records out of gzip members with libdeflate; see transforms/crawl/gzscan.py.", -1, NULL,
};

PyMODINIT_FUNC
PyInit__gzwarc(void)
{
    if (PyType_Ready(&ScannerType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    Py_INCREF(&ScannerType);
    if (PyModule_AddObject(m, "Scanner", (PyObject *)&ScannerType) < 0
        || PyModule_AddIntConstant(m, "END", STOP_END) < 0 || PyModule_AddIntConstant(m, "INFLATE", STOP_INFLATE) < 0
        || PyModule_AddIntConstant(m, "TOO_LARGE", STOP_TOO_LARGE) < 0
        || PyModule_AddIntConstant(m, "NOT_GZIP", STOP_NOT_GZIP) < 0
        || PyModule_AddIntConstant(m, "LAYOUT", STOP_LAYOUT) < 0) {
        Py_DECREF(&ScannerType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
