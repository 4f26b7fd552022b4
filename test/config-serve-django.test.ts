/**
 * Issue 8, "Done means" (1): the Django example of the mod_wsgi documentation, served by
 * `pyhost start-server --config`. A Django project made by `python3.11 -m django startproject`
 * (Debian's python3-django), a venv made by `python3.11 -m venv --system-site-packages`, and
 * test/fixtures/config-serve/django.conf: WSGIDaemonProcess example.com python-home=VENV
 * python-path=PROJECT, WSGIProcessGroup example.com, WSGIApplicationGroup %{GLOBAL},
 * WSGIRestrictEmbedded On, WSGIScriptAlias / PROJECT/mysite/wsgi.py, Alias /static/ with
 * <Directory> blocks and `Require all granted`.
 */
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import {
  DEBIAN_PYTHON, freePort, getJson, makeVenv, mappedFiles, run, send, startPyhost, template, worldTempDir, writeFile,
  type PyhostServer,
} from './helpers/config-serve.js';

const VIEWS = `
import os
import sys

import django
from django.http import HttpResponse, JsonResponse


def index(request):
    return HttpResponse("<!doctype html><title>mysite</title><h1>Hello from Django %s</h1>" % django.get_version())


def info(request):
    return JsonResponse({
        "sys.prefix": sys.prefix,
        "sys.base_prefix": sys.base_prefix,
        "pid": os.getpid(),
        "django": django.__file__,
        "process_group": request.META.get("mod_wsgi.process_group"),
        "application_group": request.META.get("mod_wsgi.application_group"),
        "SCRIPT_NAME": request.META.get("SCRIPT_NAME"),
        "PATH_INFO": request.META.get("PATH_INFO"),
        "mysite": os.path.dirname(os.path.abspath(__file__)),
    })
`;

const URLS = `
from django.contrib import admin
from django.urls import path

from . import views

urlpatterns = [
    path("", views.index),
    path("info/", views.info),
    path("admin/", admin.site.urls),
]
`;

let server: PyhostServer | undefined;
let port: number;
let project: string;
let venv: string;
let setupError: Error | undefined;

test.before(async () => {
  try {
    const dir = worldTempDir('pyhost-django-');
    project = path.join(dir, 'mysite.com');
    venv = path.join(dir, 'venv');
    fs.mkdirSync(project, { mode: 0o755 });
    const [made] = await Promise.all([
      run(DEBIAN_PYTHON, ['-m', 'django', 'startproject', 'mysite', project], { timeoutMs: 120_000 }),
      makeVenv(venv),
    ]);
    if (made.code !== 0) throw new Error(`django startproject failed: ${made.stderr}`);
    writeFile(project, 'mysite/views.py', VIEWS);
    writeFile(project, 'mysite/urls.py', URLS);
    writeFile(project, 'static/css/site.css', 'body { color: #123456; }\n');
    writeFile(project, 'static/robots.txt', 'User-agent: *\nDisallow:\n');
    fs.mkdirSync(path.join(project, 'media'), { mode: 0o755 });
    port = await freePort();
    const config = writeFile(dir, 'site.conf', template('django.conf', { PORT: port, VENV: venv, PROJECT: project }));
    server = await startPyhost({ config, ports: [port] });
  } catch (err) {
    setupError = err as Error;
  }
});

test.after.always(async () => {
  await server?.stop();
});

function ready(): PyhostServer {
  if (setupError) throw setupError;
  return server!;
}

test('a Django page is served by the daemon group', async (t) => {
  ready();
  const r = await send(port, { target: '/' });
  t.is(r.status, 200, r.body.toString());
  t.regex(r.body.toString(), /<h1>Hello from Django \d/);
  t.regex(r.header('content-type') ?? '', /^text\/html/);
});

test("a page of Django's own (the admin login form)", async (t) => {
  ready();
  const r = await send(port, { target: '/admin/login/' });
  t.is(r.status, 200, r.body.toString().slice(0, 500));
  t.regex(r.body.toString(), /<form[^>]+id="login-form"/);
  t.regex(r.header('set-cookie') ?? '', /csrftoken=/);
});

test('static files come from Alias /static/ (and Alias /robots.txt), not from Django', async (t) => {
  ready();
  const css = await send(port, { target: '/static/css/site.css' });
  t.is(css.status, 200);
  t.is(css.body.toString(), 'body { color: #123456; }\n');
  t.regex(css.header('content-type') ?? '', /^text\/css/);
  const robots = await send(port, { target: '/robots.txt' });
  t.is(robots.status, 200);
  t.is(robots.body.toString(), 'User-agent: *\nDisallow:\n');
  const missing = await send(port, { target: '/static/css/missing.css' });
  t.is(missing.status, 404);
  t.notRegex(missing.body.toString(), /Django|urlpatterns/, 'a missing static file is not routed to Django');
});

test('an unknown URL is a Django 404', async (t) => {
  ready();
  const r = await send(port, { target: '/no/such/page/' });
  t.is(r.status, 404);
  t.regex(r.body.toString(), /Page not found|Not Found/);
  t.regex(r.body.toString(), /mysite\.urls|urlpatterns|<h1>Not Found<\/h1>/, 'the 404 page is rendered by Django');
});

test('sys.prefix is the venv (python-home), Django comes from Debian through --system-site-packages', async (t) => {
  ready();
  const { status, json } = await getJson<Record<string, string | number>>(port, '/info/');
  t.is(status, 200);
  t.is(json['sys.prefix'], venv);
  t.is(json['sys.base_prefix'], '/usr');
  t.regex(String(json.django), /^\/usr\/lib\/python3\/dist-packages\/django\//);
  t.is(json.mysite, path.join(project, 'mysite'), 'python-path= put the project on sys.path');
  t.is(json.process_group, 'example.com');
  t.is(json.application_group, '', 'WSGIApplicationGroup %{GLOBAL}');
  t.is(json.SCRIPT_NAME, '');
  t.is(json.PATH_INFO, '/info/');
});

test('embedded Python is off in the front: no libpython, no addon; Django runs in a daemon process', async (t) => {
  const s = ready();
  const front = mappedFiles(s.pid);
  t.deepEqual(front.filter((f) => /libpython|\.node$/.test(f)), [], 'the front maps neither libpython nor the pyhost addon');
  const { json } = await getJson<Record<string, string | number>>(port, '/info/');
  const daemons = s.daemonPids();
  t.true(daemons.includes(Number(json.pid)), `Django ran in pid ${json.pid}, a daemon process (${daemons.join(', ')})`);
  t.not(Number(json.pid), s.pid);
  t.true(mappedFiles(Number(json.pid)).some((f) => /libpython3\.11/.test(f)), 'the daemon process embeds libpython3.11');
  t.notRegex(s.stderr(), /Traceback|failed|exited/, s.stderr());
});
