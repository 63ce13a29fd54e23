"""Other people's attacks: the malicious and benign pickle test samples of picklescan, fickling and modelscan.

The three projects' test suites build their samples in code (picklescan ``tests/init_data_files.py``; fickling
``test/test_bypasses.py``, ``test_crashes.py``, ``test_expansion_attack_analysis.py``; modelscan
``tests/test_modelscan.py``). Their files are not copied into this repository: every sample is generated here the
way their test code generates it (same callables, same opcodes, same protocol), with two changes that make the
proof stronger and keep it on this machine:

* the payload of every sample that runs a command or code would create the ``canary`` file (``touch <canary>``,
  ``open(<canary>, 'w')``); a test asserts the file never appears;
* hosts are 127.0.0.1 (closed port 9) instead of public names.

Samples that need a library we do not install (torch, aiohttp, dill, py7zr, TensorFlow/Keras) are built from their
names alone (a pickle names a callable by module and qualified name, it never needs the module to be importable to be
written), except the container formats our intake does not accept at all (7z, TensorFlow SavedModel, Keras H5),
which are left out; see docs/reliability.md.

``upstream`` records the scanner's own verdict as its test code asserts it. ``python -m tests.modelops.attack_corpora``
prints the markdown table of docs/reliability.md ("Attack corpora").
"""

from __future__ import annotations

import functools
import io
import marshal
import operator
import os
import pickle
import struct
import subprocess
import zipfile
from dataclasses import dataclass

CLOSED_PORT = 9


@dataclass(frozen=True)
class Sample:
    corpus: str        # picklescan | fickling | modelscan
    name: str          # the upstream file or test name
    data: bytes
    malicious: bool    # what upstream says it is
    upstream: str      # the upstream scanner's verdict, as its tests assert it


class Global:
    """A callable named by ``module`` and ``qualname``, pickled as GLOBAL / STACK_GLOBAL without importing it."""

    def __init__(self, module: str, qualname: str) -> None:
        self.module, self.qualname = module, qualname

    def __call__(self, *args, **kwargs):  # pickle only checks callability; never called
        raise RuntimeError("a corpus Global is never called")


class Call:
    """Pickles as ``func(*args)`` (``func`` a real callable or a ``Global``) without calling it."""

    def __init__(self, func, *args) -> None:
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args

    def __call__(self, *args, **kwargs):  # a Call may itself be the callable of another Call; never called
        raise RuntimeError("a corpus Call is never called")


class _Pickler(pickle._Pickler):
    dispatch = dict(pickle._Pickler.dispatch)

    def _save_corpus_global(self, obj: Global) -> None:
        if self.proto >= 4:
            self.save(obj.module)
            self.save(obj.qualname)
            self.write(pickle.STACK_GLOBAL)
        else:
            self.write(pickle.GLOBAL + f"{obj.module}\n{obj.qualname}\n".encode())
        self.memoize(obj)

    dispatch[Global] = _save_corpus_global


def dumps(obj, protocol: int) -> bytes:
    buffer = io.BytesIO()
    _Pickler(buffer, protocol=protocol).dump(obj)
    return buffer.getvalue()


def _zip(member: str, data: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(member, data)
    return buffer.getvalue()


def _npy(array) -> bytes:
    import numpy as np

    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    return buffer.getvalue()


def _code_args(source: str) -> tuple:
    code = compile(source, "<dynamic_code>", "exec")
    return (code.co_argcount, code.co_posonlyargcount, code.co_kwonlyargcount, code.co_nlocals, code.co_stacksize,
            code.co_flags, code.co_code, code.co_consts, code.co_names, code.co_varnames, code.co_filename,
            code.co_name, code.co_qualname, code.co_firstlineno, code.co_linetable, code.co_exceptiontable,
            code.co_freevars, code.co_cellvars)


def _collector(corpus: str, default_upstream: str | None = None):
    """The sample list of one corpus and its ``add(name, data, upstream=default_upstream, malicious=True)``."""
    out: list[Sample] = []

    def add(name, data, upstream=default_upstream, malicious=True):
        if upstream is None:
            raise TypeError(f"{corpus} sample {name} needs its upstream verdict")
        out.append(Sample(corpus, name, data, malicious, upstream))

    return out, add


def _payloads(canary) -> tuple[str, str]:
    """The shell command and the Python statement that touch the canary file: what every malicious sample runs."""
    c = str(canary)
    return f"touch {c}", f"open({c!r}, 'w').close()"


def _add_protocol_basics(add, version: int, ext: str, sh: str, py: str, upstream: tuple[str, str, str | None]):
    """The benign list, eval(py) and (when its upstream verdict is given) os.system(sh) samples of one protocol,
    as several corpora ship them (``benign0_v<version>.<ext>``, ``malicious1_...``, ``malicious2_...``)."""
    clean, on_eval, on_system = upstream
    add(f"benign0_v{version}.{ext}", pickle.dumps(["a", "b", "c"], protocol=version), clean, malicious=False)
    add(f"malicious1_v{version}.{ext}", pickle.dumps(Call(eval, py), protocol=version), on_eval)
    if on_system is not None:
        add(f"malicious2_v{version}.{ext}", pickle.dumps(Call(os.system, sh), protocol=version), on_system)


# ---- picklescan (tests/init_data_files.py, expectations from tests/test_scanner.py) ------------------------------
def picklescan_samples(canary) -> list[Sample]:
    c = str(canary)
    sh, py = _payloads(canary)
    pyimport = f"__import__('os').system({sh!r})"
    out, add = _collector("picklescan")

    for version in (0, 3, 4):
        _add_protocol_basics(add, version, "pkl", sh, py,
                             ("clean", "dangerous: builtins.eval", "dangerous: posix.system"))
    add("malicious0.pkl",
        b'c__builtin__\nglobals\n(tRp100\n0c__builtin__\ncompile\n(S\'fl=open("/etc/passwd");picklesmashed=fl.read();'
        b"'\nS''\nS'exec'\ntRp101\n0c__builtin__\neval\n(g101\ng100\ntRp102\n0c__builtin__\ngetattr\n(c__builtin__\n"
        b"dict\nS'get'\ntRp103\n0c__builtin__\napply\n(g103\n(g100\nS'picklesmashed'\nltRp104\n0g104\n.",
        "dangerous: __builtin__.eval, compile, globals, getattr, apply")
    add("malicious10.pkl", b"(S'" + py.replace("'", '"').encode() + b"'\ni__builtin__\nexec\n.",
        "dangerous: __builtin__.exec (INST)")
    ctf = [pickle.UNICODE + b"os\n", pickle.PUT + b"2\n", pickle.POP, pickle.UNICODE + b"system\n",
           pickle.PUT + b"3\n", pickle.POP, pickle.UNICODE + b"torch\n", pickle.PUT + b"0\n", pickle.POP,
           pickle.UNICODE + b"LongStorage\n", pickle.PUT + b"1\n", pickle.POP, pickle.GET + b"2\n",
           pickle.GET + b"3\n", pickle.STACK_GLOBAL, pickle.MARK, pickle.UNICODE + sh.encode() + b"\n", pickle.TUPLE,
           pickle.REDUCE, pickle.STOP]
    add("malicious11.pkl", b"".join(ctf), "dangerous: os.system (memo-resolved STACK_GLOBAL)")
    add("malicious-invalid-bytes.pkl", b"".join(ctf) + b"\n\n\t\t", "dangerous: os.system; scan error on the tail")
    add("keyerror-exploit.pkl", b"".join([
        pickle.PROTO, b"\x04", pickle.GLOBAL, b"os\nsystem\n", pickle.UNICODE, sh.encode() + b"\n", pickle.TUPLE1,
        pickle.REDUCE, pickle.POP, pickle.SHORT_BINUNICODE, b"\x02os", pickle.MEMOIZE, pickle.BINGET, b"\x03",
        pickle.BINGET, b"\x00", pickle.STACK_GLOBAL, pickle.BININT1, b"\x42", pickle.STOP]),
        "dangerous: os.system, unknown.os")
    add("type-confusion-exploit.pkl", b"".join([
        pickle.PROTO, b"\x04", pickle.GLOBAL, b"os\nsystem\n", pickle.UNICODE, sh.encode() + b"\n", pickle.TUPLE1,
        pickle.REDUCE, pickle.POP, pickle.BININT, b"\x2a\x00\x00\x00", pickle.MEMOIZE, pickle.SHORT_BINUNICODE,
        b"\x02os", pickle.MEMOIZE, pickle.BINGET, b"\x00", pickle.BINGET, b"\x01", pickle.STACK_GLOBAL,
        pickle.BININT1, b"\x42", pickle.STOP]), "dangerous: os.system; suspicious: 42.os")
    add("broken_model.pkl", b"cbuiltins\nexec\n(X>\nf = open('my_file.txt', 'a'); f.write('Malicious'); f.close()tRX.",
        "dangerous: builtins.exec; scan error (truncated)")
    # malicious12.pkl: operator.attrgetter("system")(builtins.__import__("os"))("echo pwned"), assembled by hand
    a12 = b"".join([
        pickle.PROTO, b"\x04", pickle.SHORT_BINUNICODE, b"\x08operator", pickle.MEMOIZE, pickle.SHORT_BINUNICODE,
        b"\x0aattrgetter", pickle.MEMOIZE, pickle.STACK_GLOBAL, pickle.MEMOIZE, pickle.SHORT_BINUNICODE,
        b"\x06system", pickle.MEMOIZE, pickle.TUPLE1, pickle.MEMOIZE, pickle.REDUCE, pickle.MEMOIZE,
        pickle.SHORT_BINUNICODE, b"\x08builtins", pickle.MEMOIZE, pickle.SHORT_BINUNICODE, b"\x0a__import__",
        pickle.MEMOIZE, pickle.STACK_GLOBAL, pickle.MEMOIZE, pickle.SHORT_BINUNICODE, b"\x02os", pickle.MEMOIZE,
        pickle.TUPLE1, pickle.MEMOIZE, pickle.REDUCE, pickle.MEMOIZE, pickle.TUPLE1, pickle.MEMOIZE, pickle.REDUCE,
        pickle.MEMOIZE, pickle.SHORT_BINUNICODE, bytes([len(sh)]) + sh.encode(), pickle.MEMOIZE, pickle.TUPLE1,
        pickle.MEMOIZE, pickle.REDUCE, pickle.MEMOIZE, pickle.STOP])
    add("malicious12.pkl", a12, "dangerous: operator.attrgetter; suspicious: builtins.__import__")
    add("malicious3.pkl", pickle.dumps(Call(__import__("http.client").client.HTTPSConnection, "127.0.0.1"),
                                       protocol=0), "dangerous: httplib.HTTPSConnection")
    add("malicious4.pickle", dumps(Call(Global("requests.api", "get"), f"http://127.0.0.1:{CLOSED_PORT}/"), 4),
        "dangerous: requests.api.get")
    add("malicious5.pickle", dumps(Call(Global("aiohttp.client", "ClientSession")), 4),
        "dangerous: aiohttp.client.ClientSession")
    add("malicious6.pkl", pickle.dumps(["a", "b", "c"]) + dumps(
        Call(Global("requests.api", "get"), f"http://127.0.0.1:{CLOSED_PORT}/"), 4),
        "dangerous: requests.api.get (second pickle)")
    import socket

    add("malicious7.pkl", pickle.dumps(Call(socket.create_connection, ("127.0.0.1", CLOSED_PORT)), protocol=4),
        "dangerous: socket.create_connection")
    add("malicious8.pkl", pickle.dumps(Call(subprocess.run, ["touch", c]), protocol=4),
        "dangerous: subprocess.run")
    import sys

    add("malicious9.pkl", pickle.dumps(Call(sys.exit, 0), protocol=4), "dangerous: sys.exit")
    add("malicious13a.pkl", pickle.dumps(Call(pickle.loads, b"I12345\n."), protocol=0), "dangerous: _pickle.loads")
    add("malicious13b.pkl", pickle.dumps(Call(pickle.loads, b"I12345\n."), protocol=4), "dangerous: _pickle.loads")
    import runpy

    add("malicious14.pkl", pickle.dumps(Call(runpy._run_code, py), protocol=4), "dangerous: runpy._run_code")
    import bdb

    for tag, proto in (("a", 2), ("b", 4)):
        add(f"malicious15{tag}.pkl", pickle.dumps(Call(bdb.Bdb.run, bdb.Bdb(), f"import os\nos.system({sh!r})"),
                                                  protocol=proto), "dangerous: bdb.Bdb.run")
    add("malicious16.pkl", dumps(Call(Global("pip", "main"), ["install", "some_malicious_package", "--no-input"]), 0),
        "dangerous: pip.main")
    add("malicious17.pkl", dumps(Call(Global("torch._inductor.codecache", "compile_file"), "", "",
                                      ["sh", "-c", sh]), 4), "dangerous: torch._inductor.codecache.compile_file")
    import pydoc

    add("malicious18.pkl", pickle.dumps(Call(pydoc.pipepager, "", sh), protocol=4), "dangerous: pydoc.pipepager")
    add("malicious19.pkl", dumps(Call(functools.partial(Global("torch.serialization", "load"), "some_other_model.bin",
                                                        pickle_file="config.json", weights_only=False)), 4),
        "dangerous: functools.partial, torch.serialization.load")
    import venv

    add("malicious20.pkl", pickle.dumps(Call(venv.create, "venv", False, False, True, False, f"$({sh})"),
                                        protocol=4), "dangerous: venv.create")
    import timeit

    add("malicious21.pkl", pickle.dumps(Call(timeit.timeit, "", py), protocol=4), "dangerous: timeit.timeit")
    add("malicious22.pkl", dumps(Call(Global("numpy.testing._private.utils", "runstring"), py, {}), 4),
        "dangerous: numpy.testing._private.utils.runstring")
    add("malicious23.pkl", b"".join([pickle.STRING + b"'os'\n", pickle.STRING + b"'system'\n", pickle.STACK_GLOBAL,
                                     pickle.STRING + f"'{sh}'\n".encode(), pickle.TUPLE1, pickle.REDUCE,
                                     pickle.STOP]), "dangerous: os.system (STRING operands)")

    ghsa = {  # advisory -> (module, qualname, args), as in init_data_files.reduce_GHSA_*
        "GHSA-4r9r-ch6f-vxmx": ("torch.utils.bottleneck.__main__", "run_cprofile", (pyimport, {})),
        "GHSA-86cj-95qr-2p4f": ("torch._dynamo.guards", "GuardBuilder.get", ({}, pyimport)),
        "GHSA-f4x7-rfwp-v3xw": ("torch.fx.experimental.symbolic_shapes", "ShapeEnv.evaluate_guards_expression",
                                ({}, pyimport, [])),
        "GHSA-f745-w6jp-hpxx": ("torch.utils.collect_env", "run", (sh,)),
        "GHSA-jhph-76pp-mggw": ("torch.utils.collect_env", "run_and_read_all",
                                (Global("torch.utils.collect_env", "run"), sh)),
        "GHSA-h3qp-7fh3-f8h4": ("torch.utils.data.datapipes.utils.decoder", "basichandlers", ("pickle", b"")),
        "GHSA-vr7h-p6mm-wpmh": ("torch.jit.unsupported_tensor_ops", "execWrapper", (py, {}, {})),
        "GHSA-vv6j-3g6g-2pvj": ("torch.utils._config_module", "ConfigModule.load_config", ({}, b"")),
        "GHSA-5qwp-399c-mjwf": ("trace", "Trace.run", ({}, py)),
        "GHSA-g344-hcph-8vgg": ("trace", "Trace.runctx", ({}, py, {}, {})),
        "GHSA-x696-vm39-cp64": ("profile", "Profile.run", ({}, py)),
        "GHSA-6vqj-c2q5-j97w": ("profile", "Profile.runctx", ({}, py, {}, {})),
        "GHSA-f54q-57x4-jg88": ("lib2to3.pgen2.grammar", "Grammar.loads", ({}, b"")),
        "GHSA-3vg9-h568-4w9m": ("idlelib.debugobj", "ObjectTreeItem.SetText", ({}, pyimport)),
        "GHSA-6w4w-5w54-rjvr": ("idlelib.autocomplete", "AutoComplete.get_entity", ({}, pyimport)),
        "GHSA-7cq8-mj8x-j263": ("idlelib.autocomplete", "AutoComplete.fetch_completions", ({}, pyimport, 1)),
        "GHSA-cj3c-v495-4xqh": ("code", "InteractiveInterpreter.runcode", ({}, py)),
        "GHSA-8r4j-24qv-fmq9": ("idlelib.calltip", "Calltip.fetch_tip", ({}, pyimport)),
        "GHSA-9xph-j2h6-g47v": ("idlelib.calltip", "get_entity", (pyimport,)),
        "GHSA-4whj-rm5r-c2v8": ("torch.utils.bottleneck.__main__", "run_autograd_prof", (pyimport, {})),
        "GHSA-xp4f-hrf8-rxw7": ("ensurepip", "_run_pip", (pyimport,)),
        "GHSA-p9w7-82w4-7q8m": ("lib2to3.pgen2.pgen", "ParserGenerator.make_label", (None, {}, '""+' + pyimport)),
        "GHSA-vvpj-8cmc-gx39": ("pkgutil", "resolve_name", ("os:system",)),
        "GHSA-m869-42cg-3xwr": ("idlelib.run", "Executive.runcode", ({}, py)),
        "GHSA-j343-8v2j-ff7w": ("idlelib.pyshell", "ModifiedInterpreter.runcommand", ({}, py)),
        "GHSA-3gf5-cxq9-w223": ("idlelib.pyshell", "ModifiedInterpreter.runcode", ({}, py)),
        "GHSA-fqq6-7vqf-w3fg": ("doctest", "debug_script", (py, True)),
        "GHSA-9w88-8rmg-7g2p": ("cProfile", "runctx", (py, None, None)),
        "GHSA-49gj-c84q-6qm9": ("cProfile", "run", (py,)),
        "GHSA-7wx9-6375-f5wh": ("profile", "run", (py,)),
        "GHSA-q77w-mwjj-7mqx": ("asyncio.unix_events", "_UnixSubprocessTransport._start",
                                ({}, sh, True, None, None, None, 0)),
        "GHSA-m273-6v24-x4m4": ("distutils.file_util", "write_file", (c, ["malicious content"])),
        "GHSA-4675-36f9-wf6r": ("ctypes", "CDLL", (None,)),
        "GHSA-vqmv-47xg-9wpr": ("pty", "spawn", (["/bin/sh", "-c", sh],)),
        "GHSA-r8g5-cgf2-4m4m": ("numpy.f2py.crackfortran", "getlincoef", (pyimport, [])),
        "GHSA-g38g-8gr9-h9xp-uuid": ("uuid", "_get_command_stdout", ("touch", c)),
        "GHSA-g38g-8gr9-h9xp-osx-support": ("_osx_support", "_read_output", (sh,)),
        "GHSA-g38g-8gr9-h9xp-aix-support": ("_aix_support", "_read_cmd_output", (sh,)),
        "GHSA-g38g-8gr9-h9xp-imaplib": ("imaplib", "IMAP4_stream", (sh,)),
        "io_FileIO": ("_io", "FileIO", (c, "w")),
        "urllib_request_urlopen": ("urllib.request", "urlopen", (f"http://127.0.0.1:{CLOSED_PORT}/",)),
        "logging_FileHandler": ("logging", "FileHandler", (c,)),
    }
    for advisory, (module, qualname, args) in ghsa.items():
        add(f"{advisory}.pkl", dumps(Call(Global(module, qualname), *args), 4), f"dangerous: {module}.{qualname}")
    add("GHSA-jgw4-cr84-mqxg.bin", dumps(Call(Global("asyncio.unix_events", "_UnixSubprocessTransport._start"),
                                              {}, sh, True, None, None, None, 0), 4),
        "dangerous: asyncio.unix_events._UnixSubprocessTransport._start")
    locator = Call(Global("pydoc", "locate"), "os")
    add("GHSA-84r2-jw7c-4r5q.pkl", pickle.dumps(Call(operator.methodcaller("system", sh), locator), protocol=4),
        "dangerous: pydoc.locate, operator.methodcaller")
    add("GHSA-955r-x9j8-7rhh.pkl", dumps(Call(Call(Global("_operator", "methodcaller"), "system", sh),
                                              Call(Global("builtins", "__import__"), "os")), 4),
        "dangerous: _operator.methodcaller; suspicious: builtins.__import__")
    add("GHSA-46h3-79wf-xr6c.pkl", dumps(Call(Call(Call(Global("_operator", "attrgetter"), "system"),
                                                   Call(Global("builtins", "__import__"), "os")), sh), 4),
        "dangerous: _operator.attrgetter; suspicious: builtins.__import__")
    add("GHSA-g38g-8gr9-h9xp-pyrepl-pager.pkl", dumps(Call(Global("_pyrepl.pager", "pipe_pager"), "text", sh), 4),
        "dangerous: _pyrepl.pager.pipe_pager")
    add("GHSA-g38g-8gr9-h9xp-test.pkl", dumps(Call(Global("test.support.script_helper", "assert_python_ok"),
                                                   "-c pass"), 4),
        "dangerous: test.support.script_helper.assert_python_ok")
    code_type = b"".join([pickle.PROTO + b"\x04", pickle.SHORT_BINUNICODE + b"\x05types", pickle.MEMOIZE,
                          pickle.SHORT_BINUNICODE + b"\x08CodeType", pickle.MEMOIZE, pickle.STACK_GLOBAL,
                          pickle.MEMOIZE]) + pickle.dumps(_code_args(py), protocol=4)[2:-1] \
        + pickle.REDUCE + pickle.STOP
    add("types_CodeType.pkl", code_type, "dangerous: types.CodeType")
    import cloudpickle

    def _obfuscated_eval(payload):  # pickled by value by cloudpickle, never called
        getattr(__import__("builtins"), "eval")(payload)

    _obfuscated_eval.__module__ = "__main__"  # by value, as for the upstream EvilClass method
    add("cloudpickle_codeinjection.pkl", cloudpickle.dumps(Call(_obfuscated_eval, pyimport)),
        "dangerous: cloudpickle _make_function, _builtin_type, _make_cell, subimport...")
    magic = io.BytesIO()
    pickle.dump(Call(eval, "0x1950A86A20F9469CFC6C"), magic, protocol=2)
    for part in (1001, {}, []):
        pickle.dump(part, magic, protocol=2)
    pickle.dump(Call(os.system, sh), magic, protocol=2)
    pickle.dump(None, magic, protocol=2)
    add("pytorch_magic_bypass.pt", magic.getvalue(), "dangerous: __builtin__.eval, posix.system")
    m1 = pickle.dumps(Call(eval, py), protocol=4)
    add("malicious1.zip", _zip("data.pkl", m1), "dangerous: builtins.eval (zip member)")
    add("malicious1_wrong_ext.zip", _zip("data.txt", m1), "dangerous: builtins.eval (zip member)")
    add("malicious1_central_directory.zip", _zip("data.pkl", m1).replace(b"data.pkl", b"datap.kl", 1),
        "dangerous: builtins.eval (corrupt zip)")
    add("malicious1_crc.zip", _zip("data.pkl", m1).replace(py.encode(), py.replace("w", "a").encode(), 1),
        "dangerous: builtins.eval (zip, bad CRC)")
    add("bad_pytorch.pt", b"\211PNG\r\n\032\n", "clean (not a pickle)", malicious=False)
    add("not_a_pickle.bin", b"cmod\n\xf8\n", "clean (not a pickle)", malicious=False)
    import numpy as np

    objects = np.empty((2, 2), dtype=object)
    objects[:] = [(1, 2), (3, 4)]
    add("object_array.npy", _npy(objects), "clean (builtins only in the object array)", malicious=False)
    add("int_array.npy", _npy(np.array([[1, 2], [3, 4]])), "clean", malicious=False)
    add("dns_exfiltration.npy", _npy(np.array([Call(Global("ssl", "get_server_certificate"),
                                                    ("127.0.0.1", CLOSED_PORT))], dtype=object)),
        "dangerous: ssl.get_server_certificate (object array)")
    return out


# ---- fickling (test/test_bypasses.py, test_crashes.py, test_expansion_attack_analysis.py) --------------------
def _u(text: str) -> bytes:
    raw = text.encode()
    return pickle.SHORT_BINUNICODE + bytes([len(raw)]) + raw if len(raw) < 256 else \
        pickle.BINUNICODE + struct.pack("<I", len(raw)) + raw


def _sg(module: str, name: str) -> bytes:
    return _u(module) + pickle.MEMOIZE + _u(name) + pickle.MEMOIZE + pickle.STACK_GLOBAL + pickle.MEMOIZE


def fickling_samples(canary) -> list[Sample]:
    c = str(canary)
    sh, py = _payloads(canary)
    P4, P5 = pickle.PROTO + b"\x04", pickle.PROTO + b"\x05"
    out, add = _collector("fickling", default_upstream="severity > LIKELY_SAFE")

    def getattr_chain(module, name, first_args: bytes, attr: str, call_arg: bytes) -> bytes:
        """getattr(module.name(*first_args), attr)(call_arg), the shape of the ctypes/importlib/code tests."""
        return P5 + _sg("builtins", "getattr") + _sg(module, name) + first_args + pickle.REDUCE + pickle.MEMOIZE \
            + _u(attr) + pickle.MEMOIZE + pickle.TUPLE2 + pickle.REDUCE + pickle.MEMOIZE + call_arg \
            + pickle.TUPLE1 + pickle.REDUCE + pickle.STOP

    add("test_missing_pty_unsafe_imports_ghsa", P4 + _sg("pty", "spawn") + _u(sh) + pickle.TUPLE1 + pickle.REDUCE
        + _u("gottem") + pickle.BUILD + pickle.STOP, "severity > LIKELY_SAFE (pty.spawn)")
    add("test_missing_pty_unsafe_imports_pr", pickle.MARK + b"cpty\nspawn\n" + pickle.STRING
        + f"'{sh}'\n".encode() + pickle.OBJ + pickle.STOP, "severity > LIKELY_SAFE (pty.spawn, OBJ)")
    code = compile(f"import os\nos.system({sh!r})", "<string>", "exec")
    add("test_missing_marshal_and_types", P4 + _u("marshal") + _u("loads") + pickle.STACK_GLOBAL + pickle.MEMOIZE
        + pickle.BINGET + b"\x00" + pickle.SHORT_BINBYTES + bytes([len(marshal.dumps(code))]) + marshal.dumps(code)
        + pickle.TUPLE1 + pickle.REDUCE + pickle.MEMOIZE + _u("types") + _u("FunctionType") + pickle.STACK_GLOBAL
        + pickle.MEMOIZE + pickle.BINGET + b"\x02" + pickle.BINGET + b"\x01" + pickle.EMPTY_DICT + pickle.TUPLE2
        + pickle.REDUCE + pickle.MEMOIZE + pickle.BINGET + b"\x03" + pickle.EMPTY_TUPLE + pickle.REDUCE
        + pickle.MEMOIZE + _u("gottem") + pickle.BUILD + pickle.STOP
        if len(marshal.dumps(code)) < 256 else b"", "severity > LIKELY_SAFE (marshal.loads, types.FunctionType)")
    add("test_missing_runpy", P5 + _sg("runpy", "run_path") + _u(c) + pickle.TUPLE1 + pickle.REDUCE + pickle.STOP,
        "UnsafeImports: from runpy import run_path")
    add("test_missing_cprofile", P5 + _sg("cProfile", "run") + _u(py) + pickle.TUPLE1 + pickle.REDUCE + pickle.STOP,
        "UnsafeImports: from cProfile import run")
    add("test_missing_ctypes", getattr_chain("ctypes", "CDLL", _u("libc.so.6") + pickle.TUPLE1, "system",
                                             pickle.SHORT_BINBYTES + bytes([len(sh)]) + sh.encode()),
        "UnsafeImports: from ctypes import CDLL")
    add("test_missing_pydoc", P5 + _sg("pydoc", "locate") + _u("os.system") + pickle.TUPLE1 + pickle.REDUCE
        + _u(sh) + pickle.TUPLE1 + pickle.REDUCE + pickle.STOP, "UnsafeImports: from pydoc import locate")
    add("test_missing_importlib", getattr_chain("importlib", "import_module", _u("os") + pickle.TUPLE1, "system",
                                                _u(sh)), "UnsafeImports: from importlib import import_module")
    add("test_missing_code", getattr_chain("code", "InteractiveInterpreter", pickle.EMPTY_TUPLE, "runsource",
                                           _u(py)), "UnsafeImports: from code import InteractiveInterpreter")
    add("test_missing_multiprocessing", P5 + _sg("multiprocessing.util", "spawnv_passfds")
        + pickle.SHORT_BINBYTES + b"\x07/bin/sh" + pickle.MEMOIZE + pickle.EMPTY_LIST + pickle.MEMOIZE + pickle.MARK
        + pickle.BINGET + b"\x03" + pickle.SHORT_BINBYTES + b"\x02-c" + pickle.SHORT_BINBYTES + bytes([len(sh)])
        + sh.encode() + pickle.APPENDS + pickle.EMPTY_TUPLE + pickle.TUPLE3 + pickle.REDUCE + pickle.STOP,
        "UnsafeImports: from multiprocessing.util import spawnv_passfds")
    add("test_builtins_import_bypass", b"cbuiltins\n__import__\n" + pickle.STRING + b"'os'\n" + pickle.TUPLE1
        + pickle.REDUCE + pickle.PUT + b"0\n" + pickle.POP + b"cbuiltins\ngetattr\n" + pickle.GET + b"0\n"
        + pickle.STRING + b"'system'\n" + pickle.TUPLE2 + pickle.REDUCE + pickle.PUT + b"1\n" + pickle.POP
        + pickle.GET + b"1\n" + pickle.STRING + f"'{sh}'\n".encode() + pickle.TUPLE1 + pickle.REDUCE + pickle.STOP,
        "UnsafeImports: from builtins import getattr")
    add("test_safe_builtins_not_flagged", b"cbuiltins\nlen\n" + pickle.STOP, "LIKELY_SAFE (builtins.len)",
        malicious=False)
    add("test_safe_builtin_dict_not_flagged", b"cbuiltins\ndict\n" + pickle.STOP, "LIKELY_SAFE (builtins.dict)",
        malicious=False)
    add("test_unsafe_builtins_still_flagged", b"cbuiltins\ngetattr\n" + pickle.STRING + b"'os'\n" + pickle.STRING
        + b"'system'\n" + pickle.TUPLE2 + pickle.REDUCE + pickle.STOP, "severity > LIKELY_SAFE (builtins.getattr)")
    add("test_unsafe_builtin_eval_still_flagged", b"cbuiltins\neval\n" + pickle.STRING + f'"{py}"\n'.encode()
        + pickle.TUPLE1 + pickle.REDUCE + pickle.STOP, "severity > LIKELY_SAFE (builtins.eval)")
    add("test_operator_methodcaller", b"cbuiltins\n__import__\n" + pickle.MARK + pickle.UNICODE + b"os\n"
        + pickle.TUPLE + pickle.REDUCE + pickle.PUT + b"0\n" + pickle.POP + b"c_operator\nmethodcaller\n"
        + pickle.MARK + pickle.UNICODE + b"system\n" + pickle.UNICODE + sh.encode() + b"\n" + pickle.TUPLE
        + pickle.REDUCE + pickle.MARK + pickle.GET + b"0\n" + pickle.TUPLE + pickle.REDUCE + pickle.STOP,
        "UnsafeImports: from _operator import methodcaller")
    add("test_distutils_write_file", P4 + _sg("distutils.file_util", "write_file") + _u(c) + pickle.EMPTY_LIST
        + _u("malicious content") + pickle.APPEND + pickle.TUPLE2 + pickle.REDUCE + pickle.STOP,
        "severity > LIKELY_SAFE (distutils.file_util.write_file)")
    add("test_io_fileio", P4 + _sg("_io", "FileIO") + _u(c) + _u("w") + pickle.TUPLE2 + pickle.REDUCE + pickle.STOP,
        "severity > LIKELY_SAFE (_io.FileIO)")
    add("test_numpy_f2py_getlincoef", P4 + _sg("numpy.f2py.crackfortran", "getlincoef")
        + _u(f"__import__('os').system({sh!r})") + pickle.EMPTY_LIST + pickle.TUPLE2 + pickle.REDUCE + pickle.STOP,
        "severity > LIKELY_SAFE (numpy.f2py.crackfortran.getlincoef)")
    for module, cls, port in (("smtplib", "SMTP", 25), ("imaplib", "IMAP4", 143), ("ftplib", "FTP", 21),
                              ("poplib", "POP3", 110), ("telnetlib", "Telnet", 23), ("nntplib", "NNTP", 119)):
        add(f"test_network_protocol_ssrf[{module}]", P4 + f"c{module}\n{cls}\n".encode() + _u("127.0.0.1")
            + pickle.BININT2 + struct.pack("<H", CLOSED_PORT) + pickle.TUPLE2 + pickle.REDUCE + pickle.EMPTY_DICT
            + pickle.BUILD + pickle.STOP, f"severity > LIKELY_SAFE ({module}.{cls}, port {port} upstream)")
    add("test_asyncio_subprocess", P4 + _sg("asyncio.unix_events", "_UnixSubprocessTransport._start") + pickle.MARK
        + pickle.EMPTY_DICT + _u(sh) + pickle.NEWTRUE + pickle.NONE + pickle.NONE + pickle.NONE + pickle.BININT1
        + b"\x00" + pickle.TUPLE + pickle.REDUCE + pickle.STOP, "severity > LIKELY_SAFE (asyncio.unix_events)")
    add("test_obj_pop_call_invisibility", P4 + pickle.MARK + _u("smtplib") + _u("SMTP") + pickle.STACK_GLOBAL
        + _u("127.0.0.1") + pickle.OBJ + pickle.POP + pickle.NONE + pickle.STOP,
        "severity > LIKELY_SAFE (smtplib.SMTP via OBJ, result popped)")
    add("test_missing_uuid", P4 + _sg("uuid", "_get_command_stdout") + _u("touch") + _u(c) + pickle.TUPLE2
        + pickle.REDUCE + pickle.STOP, "UnsafeImports: from uuid import _get_command_stdout")
    add("test_missing_aix_support", P4 + _sg("_aix_support", "_read_cmd_output") + _u(sh) + pickle.TUPLE1
        + pickle.REDUCE + pickle.STOP, "UnsafeImports: from _aix_support import _read_cmd_output")
    add("test_missing_osx_support", P4 + _u("_osx_support") + _u("_find_build_tool") + pickle.STACK_GLOBAL
        + _u(f"x; {sh} #") + pickle.TUPLE1 + pickle.REDUCE + pickle.STOP,
        "UnsafeImports: from _osx_support import _find_build_tool")
    add("test_dotted_attr_via_stdlib_module", P4 + _u("pathlib") + _u("os.system") + pickle.STACK_GLOBAL
        + pickle.EMPTY_TUPLE + pickle.REDUCE + pickle.STOP, "UnsafeImports: from pathlib import os.system")
    add("test_ml_allowlist_not_shadowed_by_unsafe_imports_ml", P4 + _u("ast") + _u("parse") + pickle.STACK_GLOBAL
        + pickle.STOP, "MLAllowlist finding (ast.parse)")
    for module in ("_interpreters", "_xxsubinterpreters"):
        add(f"test_private_stdlib_interpreters_blocklisted[{module}]", P4 + _u(module) + _u("create")
            + pickle.STACK_GLOBAL + pickle.EMPTY_TUPLE + pickle.REDUCE + pickle.STOP,
            "severity >= LIKELY_OVERTLY_MALICIOUS")
    hidden = pickle.GLOBAL + b"os\nsystem\n" + pickle.UNICODE + sh.encode() + b"\n" + pickle.TUPLE1 + pickle.REDUCE
    add("test_frame_boundary_divergence", P5 + pickle.NONE + pickle.UNICODE + b"a" * (8192 * 16 - 17) + b"\n"
        + pickle.POP + pickle.MARK + pickle.FRAME + struct.pack("<Q", 2) + pickle.BINBYTES + b"\x07\x01\x00\x00"
        + b"\x00\x00" + (hidden + pickle.MARK).ljust(256 + 5, pickle.NONE) + pickle.POP_MARK + pickle.STOP,
        "severity > LIKELY_SAFE (frame/parser differential)")
    add("test_well_formed_frames_are_not_flagged", pickle.dumps({"a": list(range(50)), "b": "x" * 70000},
                                                                protocol=5), "LIKELY_SAFE", malicious=False)
    unsafe_modules = ("__builtin__", "__builtins__", "builtins", "os", "posix", "nt", "subprocess", "sys",
                      "builtins", "socket", "shutil", "urllib", "urllib2", "torch.hub", "dill", "code", "pickle",
                      "_pickle", "runpy", "cProfile", "profile", "pdb", "bdb", "pty", "marshal", "types", "ctypes",
                      "importlib", "pydoc", "multiprocessing", "asyncio", "webbrowser", "httplib", "http")
    for module in dict.fromkeys(unsafe_modules):
        func = "eval" if module in ("__builtin__", "__builtins__", "builtins") else "dangerous"
        add(f"test_all_unsafe_modules_detected[{module}]", P4 + f"c{module}\n{func}\n".encode()
            + pickle.EMPTY_TUPLE + pickle.REDUCE + pickle.STOP, f"severity > LIKELY_SAFE ({module}.{func})")
    # test_crashes / test_expansion_attack_analysis: malformed and resource-exhaustion streams
    add("test_missing_mark_before_tuple", P4 + _u("a") + pickle.TUPLE + pickle.STOP,
        "severity > LIKELY_SAFE (interpreter error)")
    add("test_impossible_cyclic_pickle", P4 + pickle.EMPTY_LIST + pickle.MEMOIZE + pickle.BINGET + b"\x00"
        + pickle.BINGET + b"\x00" + pickle.APPEND + pickle.APPEND + pickle.BINGET + b"\x05" + pickle.STOP,
        "severity > LIKELY_SAFE (memo miss)")
    add("test_memo_expansion_detection", P4 + pickle.EMPTY_LIST + pickle.MEMOIZE
        + (pickle.BINGET + b"\x00" + pickle.BINGET + b"\x00" + pickle.TUPLE2 + pickle.MEMOIZE) * 1
        + b"".join(pickle.BINGET + bytes([i]) + pickle.BINGET + bytes([i]) + pickle.TUPLE2 + pickle.MEMOIZE
                   for i in range(1, 60)) + pickle.STOP, "severity > LIKELY_SAFE (memo expansion)")
    add("test_dup_expansion_detection", P4 + pickle.EMPTY_LIST + (pickle.DUP + pickle.TUPLE2 + pickle.DUP) * 60
        + pickle.STOP, "severity > LIKELY_SAFE (DUP expansion)")
    add("test_legitimate_data_not_flagged", pickle.dumps([{"k": i, "v": [i] * 3} for i in range(100)], protocol=4),
        "LIKELY_SAFE", malicious=False)
    add("test_benign_pickle", pickle.dumps({"weights": [0.1, 0.2], "name": "model"}, protocol=4), "LIKELY_SAFE",
        malicious=False)
    return [s for s in out if s.data]


# ---- modelscan (tests/test_modelscan.py: the pickle-format samples of its file_path/zip fixtures) --------------
def modelscan_samples(canary) -> list[Sample]:
    sh, py = _payloads(canary)
    out, add = _collector("modelscan")

    for version in (0, 3, 4):
        _add_protocol_basics(add, version, "pkl", sh, py,
                             ("no issues", "CRITICAL: builtins.eval", "CRITICAL: posix.system"))
        # dill writes these objects with the same opcodes as pickle (dill.dump of Malicious1 / the benign list)
        _add_protocol_basics(add, version, "dill", sh, py, ("no issues", "CRITICAL: builtins.eval", None))
    ps = {s.name: s.data for s in picklescan_samples(canary)}
    for name in ("malicious0.pkl", "malicious3.pkl", "malicious4.pickle", "malicious5.pickle", "malicious6.pkl",
                 "malicious7.pkl", "malicious8.pkl", "malicious9.pkl", "malicious10.pkl", "malicious11.pkl",
                 "malicious1.zip", "bad_pytorch.pt"):
        add(name, ps[name], "no issues (not a pickle)" if name == "bad_pytorch.pt" else "CRITICAL/HIGH issue",
            malicious=name != "bad_pytorch.pt")
    import bdb

    add("malicious15.pkl", pickle.dumps(Call(bdb.Bdb.run, bdb.Bdb(), f"import os\nos.system({sh!r})"), protocol=4),
        "CRITICAL: bdb.Bdb.run")
    inner = pickle.PROTO + b"\x05" + pickle.GLOBAL + b"os\nsystem\n" + pickle.UNICODE + sh.encode() + b"\n" \
        + pickle.TUPLE1 + pickle.REDUCE + pickle.STOP
    add("malicious12.pkl", pickle.PROTO + b"\x05" + pickle.GLOBAL + b"pickle\nloads\n" + pickle.BINBYTES
        + struct.pack("<I", len(inner)) + inner + pickle.TUPLE1 + pickle.REDUCE + pickle.POP + pickle.NONE
        + pickle.STOP, "CRITICAL: pickle.loads (nested os.system)")
    add("malicious13.pkl", pickle.PROTO + b"\x05" + pickle.GLOBAL + b"builtins\neval.__call__\n" + pickle.UNICODE
        + f"__import__('os').system({sh!r})".encode() + b"\n" + pickle.TUPLE1 + pickle.REDUCE + pickle.STOP,
        "CRITICAL: builtins.eval.__call__")
    add("malicious14.pkl", ps["malicious-invalid-bytes.pkl"], "CRITICAL: os.system (then junk)")
    add("test.zip (zip fixture)", ps["malicious1.zip"], "CRITICAL: builtins.eval")
    return out


def all_samples(canary) -> list[Sample]:
    return picklescan_samples(canary) + fickling_samples(canary) + modelscan_samples(canary)


# ---- the table of docs/reliability.md ----------------------------------------------------------------------------
def verdict(data: bytes, mode: str) -> str:
    """Our verdict on ``data`` through the whole pipeline (intake, scan, restricted load, validation)."""
    from modelops.security.allowlist import default_allowlist
    from modelops.security.errors import ModelSecurityError
    from modelops.security.intake import IntakeLimits
    from modelops.security.pipeline import check_model_bytes

    try:
        check_model_bytes(data, mode=mode, allowlist=default_allowlist(), intake_limits=IntakeLimits())
    except ModelSecurityError as exc:
        rule = exc.context.get("rule")
        return f"refused {exc.stage}/{exc.code}" + (f" ({rule})" if rule else "")
    return "accepted"


def markdown_table(canary) -> str:
    lines = ["| corpus | sample | upstream verdict | ours: blacklist | ours: whitelist | ours: audit |",
             "| --- | --- | --- | --- | --- | --- |"]
    for sample in all_samples(canary):
        ours = [verdict(sample.data, mode) for mode in ("blacklist", "whitelist", "audit")]
        lines.append(f"| {sample.corpus} | `{sample.name}` | {sample.upstream} | " + " | ".join(ours) + " |")
    return "\n".join(lines)


if __name__ == "__main__":  # python -m tests.modelops.attack_corpora
    import tempfile

    print(markdown_table(os.path.join(tempfile.mkdtemp(), "canary")))
