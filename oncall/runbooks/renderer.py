"""The renderer process: ``python -m oncall.runbooks.renderer``, started by render.Renderer.

It reads render requests on stdin and answers on stdout until stdin closes. It
never touches the database or settings, and its address space is capped so a
render that wants more memory fails alone.
"""

import resource
import signal
import sys

from oncall.runbooks.render import RENDERER_MEMORY_BYTES, serve, write_message


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the owner decides when this ends
    resource.setrlimit(resource.RLIMIT_AS, (RENDERER_MEMORY_BYTES, RENDERER_MEMORY_BYTES))
    write_message(sys.stdout.buffer, {"ready": True})
    serve(sys.stdin.buffer, sys.stdout.buffer)


if __name__ == "__main__":
    main()
