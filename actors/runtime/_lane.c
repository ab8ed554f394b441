/* The mailbox's two hot paths in C: a plain tell below the mark, and a run.
 *
 * ``Mailbox`` (mailbox.py) subclasses ``Lane``. Coalescing, the control lane's
 * routing, stamps, overflow and pressure on the producing side stay in Python
 * (``Mailbox._offer``); the fields both sides touch live here and are read and
 * written from Python as ordinary attributes. The semantics are exactly those
 * of the Python code this replaced:
 *
 * - ``offer(msg)``: a message whose type is in the plain-kinds set, while the
 *   queue is shorter than ``_mark``, is appended bare; if that wakes the mailbox,
 *   every eighth wake-up keeps its time in ``_woke_at`` and ``on_ready`` is
 *   called. Anything else goes to ``self._offer(msg)``.
 * - ``process(handlers, target, ctx, fallback)``: handles up to ``_batch``
 *   messages, the control lane first, each with ``handlers[type(msg)](target,
 *   ctx, msg)`` or ``fallback(ctx, msg)``; unwraps stamped and keyed entries
 *   (timing them) and reads broadcast cursors; stops early at a handler's
 *   non-None result (returned) or when the lanes are emptied under it; then
 *   settles the counters, the next stamp and the mark, and wakes waiting
 *   producers (``_after_take``) at the low watermark.
 *
 * Nothing here allocates per message.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

typedef struct {
    PyObject_HEAD
    PyObject *queue;           /* _queue: the ordinary lane, a collections.deque */
    PyObject *control;         /* _control: the control lane, a collections.deque */
    PyObject *on_ready;        /* on_ready: called when an offer wakes the mailbox */
    PyObject *woke_at;         /* _woke_at: a float, the wake-up message's enqueue time or 0.0 */
    PyObject *keyed;           /* _keyed: coalescing slot -> its queued entry */
    PyObject *latency;         /* _latency: the LatencyHistogram */
    PyObject *putters;         /* _putters: edge producers waiting for room */
    PyObject *drain_callbacks; /* _drain_callbacks: called at the low watermark */
    Py_ssize_t mark;           /* _mark: offer's fast path runs while the depth is below it */
    Py_ssize_t stamp_at;       /* _stamp_at: the depth at which the next message is stamped */
    Py_ssize_t limit;          /* _limit: full, a new high-water mark, the high watermark */
    Py_ssize_t low;            /* _low: the low watermark, in messages */
    Py_ssize_t batch;          /* _batch: messages per run */
    Py_ssize_t processed;      /* _processed: messages handed to handlers */
    double handler_total;      /* _handler_total: seconds in runs */
    double handler_max;        /* _handler_max: the longest gap between two clock readings */
    int wakes;                 /* _wakes: wake-ups until the next one is timed */
    char asleep;               /* _asleep: empty, and nobody is scheduled to drain it */
    char pressured;            /* pressured: between the high and the low watermark */
} Lane;

/* Set once by ``bind``. */
static PyObject *plain_kinds;    /* set of types that take the fast path */
static PyObject *accepted;       /* Delivery.ACCEPTED */
static PyTypeObject *deque_type; /* collections.deque */
static PyObject *append_descr, *appendleft_descr, *popleft_descr;
static PyCFunction append_fn, appendleft_fn, popleft_fn; /* their C functions, when plain */
static PyObject *slow_offer_name; /* "_offer" */
static PyObject *after_take_name, *take_name, *msg_name, *slot_name, *at_name, *counts_name,
    *carries_name;
static PyTypeObject *entry_type; /* mailbox._Entry */
static PyObject *feed_slot;      /* mailbox._FEED: the slot of a cursor's item */
static PyObject *zero;           /* 0.0 */
static PyObject *one;            /* 1 */
static double *bounds;           /* LatencyHistogram.BOUNDS */
static Py_ssize_t nbounds;

static PyCFunction
plain_function(PyObject *descr, int flags)
{
    if (Py_IS_TYPE(descr, &PyMethodDescr_Type)) {
        PyMethodDef *def = ((PyMethodDescrObject *)descr)->d_method;
        if ((def->ml_flags & (METH_VARARGS | METH_KEYWORDS | METH_FASTCALL | METH_NOARGS |
                              METH_O)) == flags) {
            return def->ml_meth;
        }
    }
    return NULL;
}

static inline PyObject *
call_o(PyCFunction fn, PyObject *descr, PyObject *self, PyObject *arg)
{
    if (fn != NULL) {
        return fn(self, arg);
    }
    PyObject *args[2] = {self, arg};
    return PyObject_Vectorcall(descr, args, 2, NULL);
}

static inline PyObject *
popleft(PyObject *queue)
{
    if (popleft_fn != NULL) {
        return popleft_fn(queue, NULL);
    }
    return PyObject_Vectorcall(popleft_descr, &queue, 1, NULL);
}

static inline double
now_seconds(void)
{
#if PY_VERSION_HEX >= 0x030D0000
    PyTime_t t;
    (void)PyTime_PerfCounterRaw(&t);
    return PyTime_AsSecondsDouble(t);
#else
    return _PyTime_AsSecondsDouble(_PyTime_GetPerfCounter());
#endif
}

static PyObject *
lane_offer(Lane *self, PyObject *msg)
{
    PyObject *queue = self->queue;
    if (plain_kinds != NULL && queue != NULL && Py_IS_TYPE(queue, deque_type)) {
        int plain = PySet_Contains(plain_kinds, (PyObject *)Py_TYPE(msg));
        if (plain < 0) {
            return NULL;
        }
        if (plain && Py_SIZE(queue) < self->mark) { /* a closed mailbox's mark is -1 */
            PyObject *done = call_o(append_fn, append_descr, queue, msg);
            if (done == NULL) {
                return NULL;
            }
            Py_DECREF(done);
            if (self->asleep) { /* it wakes the mailbox */
                self->asleep = 0;
                if (self->wakes) {
                    self->wakes -= 1;
                }
                else { /* every eighth wake-up message: its enqueue time is kept */
                    self->wakes = 7;
                    PyObject *now = PyFloat_FromDouble(now_seconds());
                    if (now == NULL) {
                        return NULL;
                    }
                    Py_XSETREF(self->woke_at, now);
                }
                if (self->on_ready == NULL) {
                    PyErr_SetString(PyExc_AttributeError, "mailbox has no on_ready");
                    return NULL;
                }
                PyObject *ready = PyObject_CallNoArgs(self->on_ready);
                if (ready == NULL) {
                    return NULL;
                }
                Py_DECREF(ready);
            }
            return Py_NewRef(accepted);
        }
    }
    return PyObject_CallMethodOneArg((PyObject *)self, slow_offer_name, msg);
}

/* One sample into the histogram: its per-bucket counts modulo 256 (small ints are
 * cached) and a carry per wrap, as LatencyHistogram.add does. */
static int
histogram_add(PyObject *histogram, double seconds)
{
    Py_ssize_t lo = 0, hi = nbounds; /* bisect_right */
    while (lo < hi) {
        Py_ssize_t mid = (lo + hi) / 2;
        if (seconds < bounds[mid]) {
            hi = mid;
        }
        else {
            lo = mid + 1;
        }
    }
    PyObject *counts = PyObject_GetAttr(histogram, counts_name);
    if (counts == NULL) {
        return -1;
    }
    if (!PyList_CheckExact(counts) || PyList_GET_SIZE(counts) <= lo) {
        Py_DECREF(counts);
        PyErr_SetString(PyExc_TypeError, "latency counts must be a list of every bucket");
        return -1;
    }
    long n = PyLong_AsLong(PyList_GET_ITEM(counts, lo));
    if (n == -1 && PyErr_Occurred()) {
        Py_DECREF(counts);
        return -1;
    }
    n += 1;
    if (n == 256) {
        PyObject *carries = PyObject_GetAttr(histogram, carries_name);
        if (carries == NULL) {
            Py_DECREF(counts);
            return -1;
        }
        PyObject *old = PySequence_GetItem(carries, lo);
        PyObject *more = old == NULL ? NULL : PyNumber_Add(old, one);
        Py_XDECREF(old);
        int done = more == NULL ? -1 : PySequence_SetItem(carries, lo, more);
        Py_XDECREF(more);
        Py_DECREF(carries);
        if (done < 0) {
            Py_DECREF(counts);
            return -1;
        }
        n = 0;
    }
    PyObject *value = PyLong_FromLong(n);
    if (value == NULL) {
        Py_DECREF(counts);
        return -1;
    }
    PyList_SetItem(counts, lo, value); /* steals value */
    Py_DECREF(counts);
    return 0;
}

/* The handler for ``kind``: a borrowed reference, or NULL (none, or an error set). */
static PyObject *
handler_for(PyObject *handlers, PyTypeObject *kind, PyObject **held)
{
    PyObject *found;
    if (PyDict_CheckExact(handlers)) {
        found = PyDict_GetItemWithError(handlers, (PyObject *)kind);
        Py_XINCREF(found);
    }
    else {
        found = PyObject_GetItem(handlers, (PyObject *)kind);
        if (found == NULL && PyErr_ExceptionMatches(PyExc_KeyError)) {
            PyErr_Clear();
        }
    }
    Py_XSETREF(*held, found);
    return found;
}

static PyObject *
lane_process(Lane *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 4) {
        PyErr_Format(PyExc_TypeError, "process takes 4 arguments, got %zd", nargs);
        return NULL;
    }
    PyObject *handlers = args[0], *target = args[1], *ctx = args[2], *fallback = args[3];
    PyObject *queue = self->queue, *control = self->control;
    if (queue == NULL || control == NULL || !Py_IS_TYPE(queue, deque_type) ||
        !Py_IS_TYPE(control, deque_type) || self->latency == NULL || self->keyed == NULL) {
        PyErr_SetString(PyExc_TypeError, "mailbox lanes are not set up");
        return NULL;
    }
    /* the lanes are held while handlers run: one may replace the attributes */
    Py_INCREF(queue);
    Py_INCREF(control);
    PyTypeObject *last_kind = NULL;
    PyObject *handler = NULL, *held = NULL, *result = NULL;
    Py_ssize_t handled = 0, batch = self->batch;
    int failed = 0;
    double longest = self->handler_max;
    double started = now_seconds(), mark = started;
    PyObject *woke = self->woke_at;
    if (woke != NULL && PyFloat_Check(woke) && PyFloat_AS_DOUBLE(woke) != 0.0) {
        /* the message that woke the mailbox is at the head of its queue */
        double at = PyFloat_AS_DOUBLE(woke);
        Py_XSETREF(self->woke_at, Py_NewRef(zero));
        if (histogram_add(self->latency, started - at) < 0) {
            failed = 1;
        }
    }
    while (!failed && handled < batch) {
        PyObject *msg;
        if (Py_SIZE(control) != 0) {
            msg = popleft(control);
        }
        else if (Py_SIZE(queue) != 0) {
            msg = popleft(queue);
        }
        else {
            break;
        }
        if (msg == NULL) {
            failed = 1;
            break;
        }
        PyTypeObject *kind = Py_TYPE(msg);
        if (kind == entry_type) { /* stamped, keyed, or a cursor: the message is inside */
            PyObject *entry = msg;
            PyObject *slot = PyObject_GetAttr(entry, slot_name);
            msg = slot == NULL ? NULL : PyObject_GetAttr(entry, msg_name);
            if (msg == NULL) {
                Py_XDECREF(slot);
                Py_DECREF(entry);
                failed = 1;
                break;
            }
            if (slot == feed_slot) { /* a cursor: its log's next message, if any */
                PyObject *cursor = msg;
                msg = PyObject_CallMethodNoArgs(cursor, take_name);
                Py_DECREF(cursor);
                PyObject *back = NULL;
                if (msg != NULL && msg != Py_None) { /* read on at the front next time */
                    back = call_o(appendleft_fn, appendleft_descr, queue, entry);
                    if (back == NULL) {
                        Py_CLEAR(msg);
                    }
                    Py_XDECREF(back);
                }
                Py_DECREF(slot);
                Py_DECREF(entry);
                if (msg == NULL) {
                    failed = 1;
                    break;
                }
                if (msg == Py_None) { /* nothing left to read: the item leaves */
                    Py_DECREF(msg);
                    continue;
                }
            }
            else {
                int bad = 0;
                if (slot != Py_None && PyDict_DelItem(self->keyed, slot) < 0) {
                    bad = 1;
                }
                PyObject *at = bad ? NULL : PyObject_GetAttr(entry, at_name);
                double at_seconds = at == NULL ? -1.0 : PyFloat_AsDouble(at);
                Py_XDECREF(at);
                Py_DECREF(slot);
                Py_DECREF(entry);
                if (at == NULL || (at_seconds == -1.0 && PyErr_Occurred())) {
                    Py_DECREF(msg);
                    failed = 1;
                    break;
                }
                double now = now_seconds();
                if (histogram_add(self->latency, now - at_seconds) < 0) {
                    Py_DECREF(msg);
                    failed = 1;
                    break;
                }
                if (now - mark > longest) {
                    longest = now - mark;
                }
                mark = now;
            }
            kind = Py_TYPE(msg);
        }
        if (kind != last_kind) {
            handler = handler_for(handlers, kind, &held);
            if (handler == NULL && PyErr_Occurred()) {
                Py_DECREF(msg);
                failed = 1;
                break;
            }
            last_kind = handler == NULL ? NULL : kind; /* no handler: look the next one up */
        }
        handled += 1;
        PyObject *r;
        if (handler == NULL) { /* the fallback's */
            PyObject *call[2] = {ctx, msg};
            r = PyObject_Vectorcall(fallback, call, 2, NULL);
        }
        else {
            PyObject *call[3] = {target, ctx, msg};
            r = PyObject_Vectorcall(handler, call, 3, NULL);
        }
        Py_DECREF(msg);
        if (r == NULL) {
            failed = 1;
            break;
        }
        if (r != Py_None) {
            result = r;
            break;
        }
        Py_DECREF(r);
    }
    Py_XDECREF(held);

    /* settle, whatever happened (a handler's exception propagates after it) */
    PyObject *type, *value, *traceback;
    PyErr_Fetch(&type, &value, &traceback);
    double now = now_seconds();
    if (now - mark > longest) {
        longest = now - mark;
    }
    self->processed += handled;
    self->handler_total += now - started;
    if (longest > self->handler_max) {
        self->handler_max = longest;
    }
    /* the next stamp comes ``handled`` messages sooner in depth */
    Py_ssize_t stamp_at = handled >= self->stamp_at ? 0 : self->stamp_at - handled;
    self->stamp_at = stamp_at;
    self->mark = stamp_at < self->limit ? stamp_at : self->limit;
    if (Py_SIZE(queue) <= self->low) {
        if (self->pressured || (self->putters != NULL && PyObject_IsTrue(self->putters) > 0) ||
            (self->drain_callbacks != NULL && PyObject_IsTrue(self->drain_callbacks) > 0)) {
            PyObject *r = PyObject_CallMethodNoArgs((PyObject *)self, after_take_name);
            if (r == NULL) {
                if (type == NULL) { /* nothing pending: this one propagates */
                    PyErr_Fetch(&type, &value, &traceback);
                    failed = 1;
                }
                else {
                    PyErr_Clear();
                }
            }
            Py_XDECREF(r);
        }
        if (Py_SIZE(queue) == 0 && Py_SIZE(control) == 0) {
            self->asleep = 1;
        }
    }
    PyErr_Restore(type, value, traceback);
    Py_DECREF(queue);
    Py_DECREF(control);
    if (failed) {
        Py_XDECREF(result);
        return NULL;
    }
    return result == NULL ? Py_NewRef(Py_None) : result;
}

static int
lane_traverse(Lane *self, visitproc visit, void *arg)
{
    /* Lane is a static type: a subclass's own traverse visits the heap type */
    Py_VISIT(self->queue);
    Py_VISIT(self->control);
    Py_VISIT(self->on_ready);
    Py_VISIT(self->woke_at);
    Py_VISIT(self->keyed);
    Py_VISIT(self->latency);
    Py_VISIT(self->putters);
    Py_VISIT(self->drain_callbacks);
    return 0;
}

static int
lane_clear(Lane *self)
{
    Py_CLEAR(self->queue);
    Py_CLEAR(self->control);
    Py_CLEAR(self->on_ready);
    Py_CLEAR(self->woke_at);
    Py_CLEAR(self->keyed);
    Py_CLEAR(self->latency);
    Py_CLEAR(self->putters);
    Py_CLEAR(self->drain_callbacks);
    return 0;
}

static void
lane_dealloc(Lane *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    lane_clear(self);
    tp->tp_free((PyObject *)self);
}

static PyMethodDef lane_methods[] = {
    {"offer", (PyCFunction)lane_offer, METH_O,
     "Enqueue without blocking: accepted, coalesced, or rejected by the overflow policy."},
    {"process", (PyCFunction)(void (*)(void))lane_process, METH_FASTCALL,
     "Handle up to a batch of messages, control lane first; a handler's non-None result."},
    {NULL, NULL, 0, NULL},
};

static PyMemberDef lane_members[] = {
    {"_queue", T_OBJECT_EX, offsetof(Lane, queue), 0, "the ordinary lane"},
    {"_control", T_OBJECT_EX, offsetof(Lane, control), 0, "the control lane"},
    {"on_ready", T_OBJECT_EX, offsetof(Lane, on_ready), 0, "called when an offer wakes it"},
    {"_woke_at", T_OBJECT_EX, offsetof(Lane, woke_at), 0, "the wake-up message's time"},
    {"_keyed", T_OBJECT_EX, offsetof(Lane, keyed), 0, "coalescing slot -> queued entry"},
    {"_latency", T_OBJECT_EX, offsetof(Lane, latency), 0, "the latency histogram"},
    {"_putters", T_OBJECT_EX, offsetof(Lane, putters), 0, "producers waiting for room"},
    {"_drain_callbacks", T_OBJECT_EX, offsetof(Lane, drain_callbacks), 0, "at the low mark"},
    {"_mark", T_PYSSIZET, offsetof(Lane, mark), 0, "the depth below which offer appends"},
    {"_stamp_at", T_PYSSIZET, offsetof(Lane, stamp_at), 0, "the depth of the next stamp"},
    {"_limit", T_PYSSIZET, offsetof(Lane, limit), 0, "the lowest depth of any event"},
    {"_low", T_PYSSIZET, offsetof(Lane, low), 0, "the low watermark, in messages"},
    {"_batch", T_PYSSIZET, offsetof(Lane, batch), 0, "messages per run"},
    {"_processed", T_PYSSIZET, offsetof(Lane, processed), 0, "messages handled"},
    {"_handler_total", T_DOUBLE, offsetof(Lane, handler_total), 0, "seconds in runs"},
    {"_handler_max", T_DOUBLE, offsetof(Lane, handler_max), 0, "the longest handler gap"},
    {"_wakes", T_INT, offsetof(Lane, wakes), 0, "wake-ups until the next one is timed"},
    {"_asleep", T_BOOL, offsetof(Lane, asleep), 0, "empty, and nobody will drain it"},
    {"pressured", T_BOOL, offsetof(Lane, pressured), 0, "between the watermarks"},
    {NULL, 0, 0, 0, NULL},
};

static PyTypeObject LaneType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "aiway.actors.runtime._lane.Lane",
    .tp_doc = "The hot paths of a mailbox (subclassed by Mailbox).",
    .tp_basicsize = sizeof(Lane),
    .tp_itemsize = 0,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_new = PyType_GenericNew,
    .tp_dealloc = (destructor)lane_dealloc,
    .tp_traverse = (traverseproc)lane_traverse,
    .tp_clear = (inquiry)lane_clear,
    .tp_methods = lane_methods,
    .tp_members = lane_members,
};

static PyObject *
lane_bind(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 5 || !PySet_CheckExact(args[0]) || !PyType_Check(args[2]) ||
        !PyTuple_CheckExact(args[4])) {
        PyErr_SetString(PyExc_TypeError,
                        "bind(plain_kinds: set, accepted, entry_type, feed_slot, bounds: tuple)");
        return NULL;
    }
    PyObject *given = args[4];
    Py_ssize_t n = PyTuple_GET_SIZE(given);
    double *copied = PyMem_Calloc(n ? n : 1, sizeof(double));
    if (copied == NULL) {
        return PyErr_NoMemory();
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        copied[i] = PyFloat_AsDouble(PyTuple_GET_ITEM(given, i));
        if (copied[i] == -1.0 && PyErr_Occurred()) {
            PyMem_Free(copied);
            return NULL;
        }
    }
    PyMem_Free(bounds);
    bounds = copied;
    nbounds = n;
    Py_XSETREF(plain_kinds, Py_NewRef(args[0]));
    Py_XSETREF(accepted, Py_NewRef(args[1]));
    Py_XSETREF(entry_type, (PyTypeObject *)Py_NewRef(args[2]));
    Py_XSETREF(feed_slot, Py_NewRef(args[3]));
    Py_RETURN_NONE;
}

static PyMethodDef module_methods[] = {
    {"bind", (PyCFunction)(void (*)(void))lane_bind, METH_FASTCALL,
     "bind(plain_kinds, accepted, entry_type, feed_slot, bounds): what C reads."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef lane_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "aiway.actors.runtime._lane",
    .m_doc = "The mailbox's hot paths in C.",
    .m_size = -1,
    .m_methods = module_methods,
};

PyMODINIT_FUNC
PyInit__lane(void)
{
    PyObject *collections = PyImport_ImportModule("collections");
    if (collections == NULL) {
        return NULL;
    }
    deque_type = (PyTypeObject *)PyObject_GetAttrString(collections, "deque");
    Py_DECREF(collections);
    if (deque_type == NULL) {
        return NULL;
    }
    append_descr = PyObject_GetAttrString((PyObject *)deque_type, "append");
    appendleft_descr = PyObject_GetAttrString((PyObject *)deque_type, "appendleft");
    popleft_descr = PyObject_GetAttrString((PyObject *)deque_type, "popleft");
    slow_offer_name = PyUnicode_InternFromString("_offer");
    after_take_name = PyUnicode_InternFromString("_after_take");
    take_name = PyUnicode_InternFromString("take");
    msg_name = PyUnicode_InternFromString("msg");
    slot_name = PyUnicode_InternFromString("slot");
    at_name = PyUnicode_InternFromString("at");
    counts_name = PyUnicode_InternFromString("counts");
    carries_name = PyUnicode_InternFromString("carries");
    zero = PyFloat_FromDouble(0.0);
    one = PyLong_FromLong(1);
    if (append_descr == NULL || appendleft_descr == NULL || popleft_descr == NULL ||
        slow_offer_name == NULL || after_take_name == NULL || take_name == NULL ||
        msg_name == NULL || slot_name == NULL || at_name == NULL || counts_name == NULL ||
        carries_name == NULL || zero == NULL || one == NULL) {
        return NULL;
    }
    append_fn = plain_function(append_descr, METH_O);
    appendleft_fn = plain_function(appendleft_descr, METH_O);
    popleft_fn = plain_function(popleft_descr, METH_NOARGS);
    if (PyType_Ready(&LaneType) < 0) {
        return NULL;
    }
    PyObject *module = PyModule_Create(&lane_module);
    if (module == NULL) {
        return NULL;
    }
    if (PyModule_AddObjectRef(module, "Lane", (PyObject *)&LaneType) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
