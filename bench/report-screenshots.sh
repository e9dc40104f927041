#!/usr/bin/env bash
# The screenshots of docs/img: the HTML reports of four sample traces (dying ReLU, exploding
# gradient, saturation, not learning) in headless Chromium at 1280x900 and 800x900, taken by the
# browser test that checks their layout (HtmlReportLayoutBrowserTest) after its checks pass.
#
#   bench/report-screenshots.sh            # writes docs/img/report-<trace>-<width>x900.png
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
mvn -B -q -pl analyzer -am test -Dtest=HtmlReportLayoutBrowserTest \
  -Dsurefire.failIfNoSpecifiedTests=false -Dreport.screenshots="$root/docs/img"
ls -l docs/img/report-*x900.png
