#!/usr/bin/python3
# Drives the watch page in a real (headless) Chromium against a real jobwire:
# events, a restart of the server, more events, then the page's own cancel;
# then, with an auth secret, a token that expires while the page watches
# (close 1008: the page must stop) and a page whose token is refused.
# Not part of the suite (it needs a browser):
#   apt-get install chromium chromium-driver python3-selenium
#   /usr/bin/python3 scripts/watch_page_check.py build/jobwire "$(mktemp -d)"
# Exits non-zero when the page misses an event, shows one twice, does not
# end the job, shows an unrounded percentage or ETA, or reconnects after 1008.
import base64, hashlib, hmac, json, os, subprocess, sys, time, urllib.request
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service

BIN = sys.argv[1]
DATA = sys.argv[2]
PORT = 18710
def start(*extra):
    return subprocess.Popen([BIN, f"--port={PORT}", "--caf-port=0", f"--data-dir={DATA}", "--log-level=warn", *extra],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
def publish(job, body, token=None):
    headers = {"content-type": "application/json"}
    if token: headers["authorization"] = "Bearer " + token
    req = urllib.request.Request(f"http://127.0.0.1:{PORT}/v1/jobs/{job}/events", data=json.dumps(body).encode(),
                                 headers=headers, method="POST")
    return json.load(urllib.request.urlopen(req))
def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
def mint(secret, exp_in, jobs, scope):
    head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64(json.dumps({"sub": "page-check", "exp": int(time.time()) + exp_in, "jobs": jobs, "scope": scope}).encode())
    sig = b64(hmac.new(secret, f"{head}.{body}".encode(), hashlib.sha256).digest())
    return f"{head}.{body}.{sig}"
def denied():
    text = urllib.request.urlopen(f"http://127.0.0.1:{PORT}/metrics").read().decode()
    return next(float(l.split()[1]) for l in text.splitlines() if l.startswith("jobwire_access_denied_total"))
def wait_text(drv, id_, want, timeout=15):
    end = time.time() + timeout
    while time.time() < end:
        t = drv.find_element(By.ID, id_).text
        if want in t: return t
        time.sleep(0.1)
    raise SystemExit(f"#{id_} never showed {want!r}; it shows {drv.find_element(By.ID, id_).text!r}")

srv = start(); time.sleep(0.7)
print("publish", publish("bjob", {"type": "progress_update", "stage": "s1", "progress": 10, "message": "one"}))
opts = Options()
# Without the background-networking flags Chromium keeps trying hosts this
# machine cannot reach.
for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run"):
    opts.add_argument(flag)
drv = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
try:
    drv.get(f"http://127.0.0.1:{PORT}/?job=bjob")
    wait_text(drv, "message", "one")
    publish("bjob", {"type": "progress_update", "stage": "s1", "progress": 100 / 3, "message": "two",
                     "estimated_seconds_remaining": 0.2})
    wait_text(drv, "message", "two")
    shown = (drv.find_element(By.ID, "percent").text, drv.find_element(By.ID, "eta").text)
    print("percent and ETA shown:", shown)
    if shown != ("33.3 %", "less than a second left"):
        raise SystemExit(f"100/3 % with 0.2 s left should show 33.3 % and less than a second; it shows {shown}")
    srv.terminate(); srv.wait()
    print("link after stop:", wait_text(drv, "link", "reconnecting"))
    srv = start(); time.sleep(0.7)
    publish("bjob", {"type": "progress_update", "stage": "s2", "progress": 30, "message": "three",
                     "estimated_seconds_remaining": 1e308})
    wait_text(drv, "message", "three")
    print("ETA shown for 1e308 s:", wait_text(drv, "eta", "more than a year left"))
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
    if "33.33" in drv.find_element(By.ID, "log").text:
        raise SystemExit("the log shows an unrounded percentage")
    status = json.load(urllib.request.urlopen(f"http://127.0.0.1:{PORT}/v1/jobs/bjob"))
    print("status:", status)
    if status["status"] != "cancelled":
        raise SystemExit("the job did not end cancelled")

    # With an auth secret: a token that expires while the page watches.
    srv.terminate(); srv.wait()
    secret = os.urandom(32)
    with open(os.path.join(DATA, "secret"), "wb") as f: f.write(secret)
    srv = start("--auth-secret-file=" + os.path.join(DATA, "secret")); time.sleep(0.7)
    publisher = mint(secret, 3600, ["tjob"], "publish")
    publish("tjob", {"type": "progress_update", "stage": "s1", "progress": 10, "message": "watched"}, publisher)
    drv.get(f"http://127.0.0.1:{PORT}/?job=tjob&token=" + mint(secret, 4, ["tjob"], "view cancel"))
    wait_text(drv, "message", "watched")
    closed = wait_text(drv, "link", "token expired", timeout=20)
    print("link after the token expired:", closed)
    if "new token" not in closed:
        raise SystemExit("the page should say to reload with a new token")
    before = denied()
    time.sleep(4)  # a reconnect would come within about a second and get 401
    if drv.find_element(By.ID, "link").text != closed or denied() != before:
        raise SystemExit("the page tried again after 1008: " + drv.find_element(By.ID, "link").text)
    # A token the server refuses: the upgrade's 401 reaches the page as a bare
    # 1006, which it reports as cannot connect, and keeps trying.
    drv.get(f"http://127.0.0.1:{PORT}/?job=tjob&token=" + mint(secret, -10, ["tjob"], "view"))
    print("link with an expired token:", wait_text(drv, "link", "3 tries in a row"))
    if denied() < before + 3:
        raise SystemExit("three refused upgrades should be counted")
    print("ok")
finally:
    drv.quit(); srv.terminate(); srv.wait()
