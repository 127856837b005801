# Copyright: djangoops.stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pack a release of a local source on the control node, in one gzip'd tar.

Run by roles/django_app/tasks/build.yml with the control node's Python. It reads a JSON object
on stdin:

    {"source": "<project folder>", "exclude": ["__pycache__", "*.pyc", ...],
     "files": {"<path in the release>": "<content>", ...}}

and writes the archive named by its only argument. The archive holds the project's files, less
the names matching an exclude pattern anywhere in the tree (the files the release id is digested
from), and the files the role rendered, which replace the project's own at the same paths. A
rendered Python file that does not compile stops it before anything is written, with the file
named. Members are named without a leading "./": unarchive gives each member's top folder the
task's mode, and a "./" prefix would make that the release folder itself.
"""

import fnmatch
import io
import json
import os
import sys
import tarfile
import time


def excluded(name, patterns):
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)


def project_members(source, patterns, replaced):
    """Yield (path on disk, name in the archive) of the project's folders and files, sorted."""
    for dirpath, dirnames, filenames in os.walk(source):
        dirnames[:] = sorted(d for d in dirnames if not excluded(d, patterns))
        relative = os.path.relpath(dirpath, source).replace(os.sep, "/")
        prefix = "" if relative == "." else relative + "/"
        if prefix:
            yield dirpath, relative
        # Links to folders are listed with the folders, and not walked: keep them as links.
        for name in sorted(filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]):
            if excluded(name, patterns) or prefix + name in replaced:
                continue
            yield os.path.join(dirpath, name), prefix + name
        dirnames[:] = [d for d in dirnames if not os.path.islink(os.path.join(dirpath, d))]


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: pack_release.py ARCHIVE < request.json")
    request = json.load(sys.stdin)
    rendered = {name: content.encode() for name, content in request.get("files", {}).items()}
    for name, content in rendered.items():
        if name.endswith(".py"):
            try:
                compile(content, name, "exec")
            except SyntaxError as error:
                sys.exit(f"{name} does not compile: {error}")
    patterns = request.get("exclude", [])
    now = int(time.time())
    folders = set()
    with tarfile.open(sys.argv[1], "w:gz", compresslevel=6, format=tarfile.GNU_FORMAT) as archive:
        if request.get("source"):
            for path, name in project_members(request["source"], patterns, rendered):
                archive.add(path, arcname=name, recursive=False)
                if os.path.isdir(path) and not os.path.islink(path):
                    folders.add(name)
        for name in sorted(rendered):
            parts = name.split("/")[:-1]
            for depth in range(1, len(parts) + 1):
                folder = "/".join(parts[:depth])
                if folder not in folders:
                    info = tarfile.TarInfo(folder)
                    info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o750, now
                    archive.addfile(info)
                    folders.add(folder)
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(rendered[name]), 0o640, now
            archive.addfile(info, io.BytesIO(rendered[name]))


if __name__ == "__main__":
    main()
