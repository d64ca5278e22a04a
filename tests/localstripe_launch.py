"""Run localstripe (a fake Stripe server, GPL-3, test-only) on 127.0.0.1 with its state in
memory only: stock localstripe pickles its store to one file in the system temp folder that
every instance shares, so parallel test workers would read each other's objects.

    python tests/localstripe_launch.py --port N
"""

import argparse

import localstripe.resources as resources

resources.Store.dump_to_disk = lambda self: None
resources.Store.try_load_from_disk = lambda self: None

from aiohttp import web  # noqa: E402
from localstripe import server  # noqa: E402

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    web.run_app(server.app, host="127.0.0.1", port=args.port, print=None)
