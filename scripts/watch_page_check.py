#!/usr/bin/python3
# Drives the watch page in a real (headless) Chromium against a real jobwire:
# events, a restart of the server, more events, then the page's own cancel.
# Not part of the suite (it needs a browser):
#   apt-get install chromium chromium-driver python3-selenium
#   /usr/bin/python3 scripts/watch_page_check.py build/jobwire "$(mktemp -d)"
# Exits non-zero when the page misses an event, shows one twice or does not
# end the job.
import json, subprocess, sys, time, urllib.request
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service

BIN = sys.argv[1]
DATA = sys.argv[2]
PORT = 18710
def start():
    return subprocess.Popen([BIN, f"--port={PORT}", "--caf-port=0", f"--data-dir={DATA}", "--log-level=warn"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
def publish(job, body):
    req = urllib.request.Request(f"http://127.0.0.1:{PORT}/v1/jobs/{job}/events", data=json.dumps(body).encode(),
                                 headers={"content-type": "application/json"}, method="POST")
    return json.load(urllib.request.urlopen(req))
def wait_text(drv, id_, want, timeout=15):
    end = time.time() + timeout
    while time.time() < end:
        t = drv.find_element(By.ID, id_).text
        if want in t: return t
        time.sleep(0.1)
    raise SystemExit(f"#{id_} never showed {want!r}; it shows {drv.find_element(By.ID, id_).text!r}")

srv = start(); time.sleep(0.7)
print("publish", publish("bjob", {"type": "progress_update", "stage": "s1", "progress": 10, "message": "one"}))
opts = Options(); opts.add_argument("--headless"); opts.add_argument("--no-sandbox")
drv = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
try:
    drv.get(f"http://127.0.0.1:{PORT}/?job=bjob")
    wait_text(drv, "message", "one")
    publish("bjob", {"type": "progress_update", "stage": "s1", "progress": 20, "message": "two"})
    wait_text(drv, "percent", "20 %")
    srv.terminate(); srv.wait()
    print("link after stop:", wait_text(drv, "link", "reconnecting"))
    srv = start(); time.sleep(0.7)
    publish("bjob", {"type": "progress_update", "stage": "s2", "progress": 30, "message": "three"})
    wait_text(drv, "message", "three")
    print("link after restart:", drv.find_element(By.ID, "link").text)
    drv.find_element(By.ID, "reason").send_keys("from the browser")
    drv.find_element(By.ID, "cancel-button").click()
    wait_text(drv, "state", "cancelled")
    log = drv.find_element(By.ID, "log").text.splitlines()
    print("log, newest first:"); [print("  ", l) for l in log]
    seqs = [l.split("#")[1].split()[0] for l in log if "#" in l]
    print("seqs shown:", seqs)
    if seqs != ["4", "3", "2", "1"]:
        raise SystemExit("the page should show events 1 to 4 once each")
    if drv.find_element(By.ID, "cancel-button").is_enabled():
        raise SystemExit("the cancel button is still enabled after the end")
    status = json.load(urllib.request.urlopen(f"http://127.0.0.1:{PORT}/v1/jobs/bjob"))
    print("status:", status)
    if status["status"] != "cancelled":
        raise SystemExit("the job did not end cancelled")
    print("ok")
finally:
    drv.quit(); srv.terminate(); srv.wait()
