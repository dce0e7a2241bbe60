#!/usr/bin/env python3
"""Exercise every code block of the user documentation (README.md, docs/*.md).

  c     compiled as its own translation unit against an *installed* libgda,
        with the flags `pkg-config --cflags --libs libgda` gives (the build is
        installed into a scratch DESTDIR first), -std=c11 -Wall -Wextra
        -Wpedantic -Werror. A program (it has main) is linked, and run when a
        `<!-- docs-check {...} -->` line right above the block says how:
        {"stdin": TEXT, "expect": [TEXT, ...], "status": N}.
  sh    every command (a line, with backslash continuations joined; comments
        and blank lines skipped) must be listed in docs/tested-commands.txt,
        which says where it is exercised: a file that must contain a given
        text, or RUN, meaning this script runs it itself (in a scratch
        directory holding main.c = examples/own-handler/main.c and
        request.json = a valid Data Action request, with pkg-config pointed
        at the scratch install and its bin/ first on PATH) and its output
        must contain the given text ("-": anything). RUN@DIR runs it in a
        scratch copy of DIR (from the source root) instead, e.g.
        RUN@examples/own-lambda; commands sharing a directory run in the
        order the documents show them, so each sees what the last made. Entries no document uses any more are refused, so
        the table cannot rot.
  json  must parse.
Blocks of any other language (text, console output, yaml examples of the
Genesys UI) are prose. README.md must hold exactly one C block, identical to
examples/own-handler/main.c.

Usage: check_code_blocks.py SOURCE_ROOT BUILD_ROOT   (CC and MESON from the
environment; meson test sets them).
"""
import glob
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

FENCE = re.compile(r"^(\s*)```([A-Za-z0-9_+-]*)\s*$")
DIRECTIVE = re.compile(r"^<!--\s*docs-check\s+(\{.*\})\s*-->\s*$")
SHELL_LANGS = ("sh", "bash", "shell")
SAMPLE_REQUEST = ('{"interactionId":"3f1c2e8a-9b4d-4c6e-8a1f-2b3c4d5e6f70","requestId":"docs-1",'
                  '"callerId":"+15551234567","timestamp":"2026-11-24T10:00:00Z"}\n')


class Block:
    def __init__(self, path, line, lang, text, directive):
        self.path, self.line, self.lang, self.text, self.directive = path, line, lang, text, directive

    def where(self):
        return "%s:%d" % (self.path, self.line)


def blocks_of(path, rel):
    out = []
    lines = open(path, encoding="utf-8").read().split("\n")
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, lang = len(m.group(1)), m.group(2).lower()
        directive = None
        if i > 0:
            d = DIRECTIVE.match(lines[i - 1])
            if d:
                directive = json.loads(d.group(1))
        start = i + 1
        j = start
        while j < len(lines) and lines[j].strip() != "```":
            j += 1
        if j == len(lines):
            raise SystemExit("%s:%d: unterminated code block" % (rel, i + 1))
        # A block inside a list item is indented like its fence.
        body = [l[indent:] if l[:indent].strip() == "" else l for l in lines[start:j]]
        out.append(Block(rel, i + 1, lang, "\n".join(body) + "\n", directive))
        i = j + 1
    return out


def shell_commands(text):
    cmds, cur = [], ""
    for raw in text.split("\n"):
        # A trailing "  # comment" is prose, not part of the command.
        line = re.sub(r"\s+#\s.*$", "", raw).strip()
        if not cur and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            cur += line[:-1].rstrip() + " "
            continue
        cur += line
        cmds.append(cur.strip())
        cur = ""
    if cur.strip():
        cmds.append(cur.strip())
    return cmds


def load_table(path):
    table = {}
    for n, raw in enumerate(open(path, encoding="utf-8"), 1):
        line = raw.rstrip("\n")
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) != 3 or not all(p.strip() for p in parts):
            raise SystemExit("%s:%d: want COMMAND<TAB>FILE-or-RUN<TAB>EVIDENCE" % (path, n))
        if parts[0] in table:
            raise SystemExit("%s:%d: duplicate command" % (path, n))
        table[parts[0]] = (parts[1], parts[2], n)
    return table


def run(cmd, **kw):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, **kw)


def main(src, build):
    failures = []
    docs = [os.path.join(src, "README.md")] + sorted(glob.glob(os.path.join(src, "docs", "*.md")))
    blocks = []
    for p in docs:
        blocks += blocks_of(p, os.path.relpath(p, src))

    # README's program is examples/own-handler/main.c, byte for byte.
    own = open(os.path.join(src, "examples", "own-handler", "main.c"), encoding="utf-8").read()
    readme_c = [b for b in blocks if b.path == "README.md" and b.lang == "c"]
    if len(readme_c) != 1:
        failures.append("README.md: want exactly one ```c block, found %d" % len(readme_c))
    elif readme_c[0].text != own:
        failures.append("%s: the C block differs from examples/own-handler/main.c" % readme_c[0].where())

    # Install the build into a scratch root and point pkg-config at it.
    scratch = tempfile.mkdtemp(prefix="gda-docs-")
    root = os.path.join(scratch, "root")
    meson = shlex.split(os.environ.get("MESON", "meson"))
    r = run(meson + ["install", "-C", build, "--destdir", root, "--no-rebuild", "--quiet"])
    if r.returncode != 0:
        print(r.stdout, file=sys.stderr)
        raise SystemExit("check_code_blocks: meson install into a scratch root failed")
    pcs = glob.glob(os.path.join(root, "**", "pkgconfig", "libgda.pc"), recursive=True)
    if len(pcs) != 1:
        raise SystemExit("check_code_blocks: libgda.pc not installed (found %r)" % pcs)
    env = dict(os.environ)
    env["PKG_CONFIG_PATH"] = os.path.dirname(pcs[0])
    env["PKG_CONFIG_SYSROOT_DIR"] = root
    env["LD_LIBRARY_PATH"] = os.path.dirname(os.path.dirname(pcs[0]))
    bins = glob.glob(os.path.join(root, "**", "bin", "gda"), recursive=True)
    if len(bins) == 1:
        env["PATH"] = os.path.dirname(bins[0]) + os.pathsep + env.get("PATH", "")
    r = run(["pkg-config", "--cflags", "--libs", "libgda"], env=env)
    if r.returncode != 0:
        raise SystemExit("check_code_blocks: pkg-config --cflags --libs libgda failed: " + r.stdout)
    pkg_flags = shlex.split(r.stdout)
    cc = shlex.split(os.environ.get("CC", "cc"))
    strict = ["-std=c11", "-Wall", "-Wextra", "-Wpedantic", "-Werror"]

    compiled = 0
    for n, b in enumerate(blocks):
        if b.lang == "json":
            try:
                json.loads(b.text)
            except ValueError as e:
                failures.append("%s: JSON block does not parse: %s" % (b.where(), e))
            continue
        if b.lang != "c":
            continue
        c_file = os.path.join(scratch, "block%d.c" % n)
        with open(c_file, "w", encoding="utf-8") as f:
            f.write(b.text)
        is_program = re.search(r"\bint\s+main\s*\(", b.text) is not None
        exe = os.path.join(scratch, "block%d" % n)
        cmd = cc + strict + ([c_file, "-o", exe] if is_program else ["-c", c_file, "-o", exe + ".o"]) + pkg_flags
        r = run(cmd, env=env)
        if r.returncode != 0:
            failures.append("%s: does not compile:\n%s" % (b.where(), r.stdout))
            continue
        compiled += 1
        if b.directive is None:
            continue
        if not is_program:
            failures.append("%s: docs-check on a block without main" % b.where())
            continue
        r = subprocess.run([exe], input=b.directive.get("stdin", ""), stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, universal_newlines=True, env=env, timeout=60)
        want = b.directive.get("status", 0)
        if r.returncode != want:
            failures.append("%s: exited %d, wanted %d:\n%s" % (b.where(), r.returncode, want, r.stdout))
        for text in b.directive.get("expect", []):
            if text not in r.stdout:
                failures.append("%s: output lacks %r:\n%s" % (b.where(), text, r.stdout))

    # Shell commands: each one listed, each listing true.
    table_path = os.path.join(src, "docs", "tested-commands.txt")
    table = load_table(table_path)
    used = set()
    work = os.path.join(scratch, "work")
    os.makedirs(work)
    with open(os.path.join(work, "main.c"), "w", encoding="utf-8") as f:
        f.write(own)
    with open(os.path.join(work, "request.json"), "w", encoding="utf-8") as f:
        f.write(SAMPLE_REQUEST)
    dirs = {"RUN": work}
    n_cmds = 0
    for b in blocks:
        if b.lang not in SHELL_LANGS:
            continue
        for cmd in shell_commands(b.text):
            n_cmds += 1
            if cmd not in table:
                failures.append("%s: command not in docs/tested-commands.txt: %s" % (b.where(), cmd))
                continue
            if cmd in used:
                continue
            used.add(cmd)
            where, evidence, line = table[cmd]
            if where == "RUN" or where.startswith("RUN@"):
                if where not in dirs:
                    dirs[where] = os.path.join(scratch, "run%d" % len(dirs))
                    shutil.copytree(os.path.join(src, where[4:]), dirs[where])
                # The page says `cc`; build with the compiler (and, in a
                # sanitizer build, the sanitizer flags) this build uses.
                run_cmd = cmd
                if cmd.startswith("cc "):
                    run_cmd = " ".join(shlex.quote(a) for a in cc) + cmd[2:]
                r = subprocess.run(["sh", "-c", run_cmd], cwd=dirs[where], env=env,
                                   stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, universal_newlines=True, timeout=120)
                if r.returncode != 0:
                    failures.append("tested-commands.txt:%d: `%s` failed:\n%s" % (line, cmd, r.stdout))
                elif evidence != "-" and evidence not in r.stdout:
                    failures.append("tested-commands.txt:%d: `%s` printed no %r:\n%s"
                                    % (line, cmd, evidence, r.stdout))
                continue
            target = os.path.join(src, where)
            if not os.path.isfile(target):
                failures.append("tested-commands.txt:%d: no such file %s" % (line, where))
            elif evidence not in open(target, encoding="utf-8", errors="replace").read():
                failures.append("tested-commands.txt:%d: %s does not contain %r" % (line, where, evidence))
    for cmd, (_, _, line) in table.items():
        if cmd not in used:
            failures.append("tested-commands.txt:%d: no document uses `%s` any more" % (line, cmd))

    for f in failures:
        print("FAIL " + f, file=sys.stderr)
    print("check_code_blocks: %d documents, %d C blocks compiled, %d shell commands checked, %d failure(s)"
          % (len(docs), compiled, n_cmds, len(failures)))
    subprocess.run(["rm", "-rf", scratch])
    return 1 if failures else 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2]))
