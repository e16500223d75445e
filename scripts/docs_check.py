#!/usr/bin/env python3
"""Checks what headless Chromium made of GET /docs: the rendered DOM holds every operation
of openapi.yaml, every error code, the quick start and the tables, loads nothing from
elsewhere, and the screenshot is a real rendering (a PNG of the asked size, not blank).

    python3 scripts/docs_check.py <dumped DOM> <screenshot.png> <openapi.yaml>
"""
import re
import struct
import sys

dom_path, png_path, spec_path = sys.argv[1:4]
dom = open(dom_path, encoding="utf-8").read()
spec = open(spec_path, encoding="utf-8").read()

problems = []
operation_ids = re.findall(r"^\s+operationId: (\w+)$", spec, re.MULTILINE)
codes = re.findall(r"^- code: (\d+)$", spec, re.MULTILINE)
if len(operation_ids) < 30 or len(codes) < 20:
    problems.append(f"openapi.yaml parsed badly: {len(operation_ids)} operations, {len(codes)} codes")
for op in operation_ids:
    if f'id="op-{op}"' not in dom:
        problems.append(f"operation {op} is not on the page")
for code in codes:
    if f"<code>{code}</code>" not in dom:
        problems.append(f"error code {code} is not on the page")
for heading in ["Quick start", "Scopes", "Product codes", "Allowed origins", "Billing rules", "Error catalogue", "Reference", "Schemas"]:
    if f">{heading}</h2>" not in dom:
        problems.append(f"section {heading!r} is missing")
for needle in ["curl -s -X POST", "import json, time", "retry_after_ms", "DELETE", 'prefix="Session"', "openapi-fetch"]:
    if needle not in dom:
        problems.append(f"the quick start lacks {needle!r}")
if re.search(r'<(script|link)\b|src="https?:|@import|url\(', dom):
    problems.append("the page loads something from elsewhere")

png = open(png_path, "rb").read()
if png[:8] != b"\x89PNG\r\n\x1a\n":
    problems.append("the screenshot is not a PNG")
else:
    width, height = struct.unpack(">II", png[16:24])
    if (width, height) != (1280, 2000):
        problems.append(f"the screenshot is {width}x{height}")
    # A blank page compresses to almost nothing; a rendered one does not.
    if len(png) < 50_000:
        problems.append(f"the screenshot is suspiciously small ({len(png)} bytes)")

if problems:
    sys.exit("docs page check failed:\n  " + "\n  ".join(problems))
print(f"docs page renders: {len(operation_ids)} operations, {len(codes)} error codes, screenshot {len(png)} bytes")
