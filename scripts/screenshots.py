#!/usr/bin/env python
"""Full-page screenshots of a running server, to look at the pages as users see them.

Starts nothing itself: point it at a server you run (for example the demo on SQLite), give an
account and the paths to capture. It logs in through the login page (capturing that page first,
as 00-login.png), then saves one PNG per path into the output folder (./screenshots/ by default,
which git ignores). A path ending in "!submit" is loaded and its main form submitted empty, to
capture the page with its error messages; one ending in "!menu" is captured with the phone menu
opened (its 菜单 button clicked). --width sets the viewport (1366 by default; 390 for a
phone); a page that comes out wider than the viewport is flagged, with its width.

    .venv/bin/python scripts/screenshots.py --base-url http://127.0.0.1:8765 \\
        --username cadre --password demo12345 / /households/ "/households/new/!submit"

Uses Debian's Chromium (/usr/bin/chromium): Playwright cannot download its own browser here. It
has only its en-US locale, so the browser's own widgets ("Choose File", mm/dd/yyyy in date inputs)
show in English; users' browsers draw them in their own language."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from urllib.parse import urljoin

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SUBMIT = "!submit"
MENU = "!menu"


def slug(path: str) -> str:
    return re.sub(r"[^0-9A-Za-z]+", "-", path).strip("-") or "home"


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "paths", nargs="+", help='paths to capture, e.g. / /households/ "/households/new/!submit"'
    )
    parser.add_argument("--base-url", default="http://127.0.0.1:8000")
    parser.add_argument("--username", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--out", type=Path, default=Path("screenshots"), help="folder for the PNGs")
    parser.add_argument("--width", type=int, default=1366, help="viewport width in pixels")
    parser.add_argument("--height", type=int, default=800, help="viewport height in pixels")
    parser.add_argument("--chromium", default=CHROMIUM, help="the Chromium executable")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    problems = 0
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)
        context = browser.new_context(
            locale="zh-CN",
            viewport={"width": args.width, "height": args.height},
            extra_http_headers={"Accept-Language": "zh-CN,zh;q=0.9"},
        )
        page = context.new_page()
        errors: list[str] = []
        page.on("console", lambda msg: msg.type == "error" and errors.append(msg.text))
        page.on("pageerror", lambda exc: errors.append(str(exc)))

        page.goto(urljoin(args.base_url, "/accounts/login/"))
        page.screenshot(path=args.out / "00-login.png", full_page=True)
        page.fill("input[name=username]", args.username)
        page.fill("input[name=password]", args.password)
        with page.expect_navigation():
            page.click("form [type=submit]")
        if "/accounts/login/" in page.url:
            page.screenshot(path=args.out / "00-login-failed.png", full_page=True)
            print(f"Login as {args.username} failed; see {args.out / '00-login-failed.png'}", file=sys.stderr)
            return 1

        for n, raw in enumerate(args.paths, start=1):
            path, submit = (raw[: -len(SUBMIT)], True) if raw.endswith(SUBMIT) else (raw, False)
            path, menu = (path[: -len(MENU)], True) if path.endswith(MENU) else (path, False)
            errors.clear()
            try:
                response = page.goto(urljoin(args.base_url, path))
            except PlaywrightError as error:
                # A download (a CSV, a PDF) or a refused address: no page to capture.
                problems += 1
                print(f"{raw:40}    ?  not a page: {error.message.splitlines()[0]}  <-- check")
                page.wait_for_timeout(500)  # let Chromium's own error page finish loading
                continue
            status = response.status if response else 0
            if menu:
                toggle = page.locator("[data-menu-toggle]")
                if toggle.is_visible():
                    toggle.click()
            if submit:
                # Skip the browser's own checks of required fields so the server's messages show.
                page.eval_on_selector_all("main form", "forms => forms.forEach(f => f.noValidate = true)")
                button = page.locator("main form [type=submit]").first
                with page.expect_navigation():
                    button.click()
                status = page.evaluate(
                    "() => performance.getEntriesByType('navigation')[0]?.responseStatus ?? 0"
                )
            name = f"{n:02d}-{slug(path)}{'-submitted' if submit else ''}{'-menu' if menu else ''}.png"
            page.wait_for_load_state("networkidle")
            page.screenshot(path=args.out / name, full_page=True)
            # A page wider than the viewport scrolls sideways as a whole: on a phone that hides
            # the menu and the buttons; wide tables belong in a scrolling container instead.
            width = page.evaluate("() => document.documentElement.scrollWidth")
            flag = "" if status and status < 400 and not errors else "  <-- check"
            if width > args.width:
                flag += f"  <-- {width} px wide"
            problems += bool(flag)
            print(f"{raw:40} {status or '?':>4}  {args.out / name}{flag}")
            for error in errors:
                print(f"    console: {error}")
        browser.close()
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
