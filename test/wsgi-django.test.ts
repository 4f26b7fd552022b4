/**
 * A real Django project (Debian's python3-django 3.2 on /usr/bin/python3.11), created by
 * `django-admin startproject` in a temp dir, given a few views, and served through its own
 * wsgi.py at /dj in a sub-interpreter: pages, a CSRF-protected form, a file upload, JSON, 404.
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Engine } from '../ts/index.js';
import { request } from './helpers/http.js';
import { DEBIAN_PYTHON, LogCapture, serve, startEngine, tempDir, type TestServer } from './helpers/wsgi-server.js';

let engine: Engine;
let logs: LogCapture;
let server: TestServer;
let project: string;

const VIEWS = `
import hashlib

from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.template import RequestContext, Template
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt

FORM = Template("""<!doctype html><title>Form</title>
<form method="post" action="{% url 'form' %}">{% csrf_token %}<input name="name"></form>""")


def index(request):
    return HttpResponse(
        "<h1>Django on pyhost</h1><p>script_name=%s path=%s</p><a href=\\"%s\\">form</a>"
        % (request.META["SCRIPT_NAME"], request.path, reverse("form"))
    )


def form(request):
    if request.method == "POST":
        return redirect(reverse("thanks") + "?name=" + request.POST["name"])
    return HttpResponse(FORM.render(RequestContext(request, {})))


def thanks(request):
    return HttpResponse("thanks %s" % request.GET.get("name", ""))


@csrf_exempt
def upload(request):
    f = request.FILES["file"]
    data = f.read()
    return JsonResponse({
        "name": f.name,
        "size": f.size,
        "sha256": hashlib.sha256(data).hexdigest(),
        "on_disk": hasattr(f, "temporary_file_path"),
        "title": request.POST.get("title"),
    })


def api(request, key):
    return JsonResponse({"key": key, "method": request.method, "query": request.GET.dict(),
                         "script_name": request.META["SCRIPT_NAME"], "path_info": request.path_info})
`;

const URLS = `
from django.urls import path

from . import views

urlpatterns = [
    path("", views.index, name="index"),
    path("form/", views.form, name="form"),
    path("thanks/", views.thanks, name="thanks"),
    path("upload/", views.upload, name="upload"),
    path("api/<str:key>/", views.api, name="api"),
]
`;

const SETTINGS = `

# pyhost test overrides
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
SECRET_KEY = "pyhost-test-" + "k" * 50
`;

test.before(async () => {
  project = tempDir('pyhost-django-');
  const made = spawnSync(DEBIAN_PYTHON, ['-m', 'django', 'startproject', 'mysite', project], { encoding: 'utf8' });
  if (made.status !== 0) throw new Error(`startproject failed: ${made.stderr}`);
  fs.writeFileSync(path.join(project, 'mysite', 'views.py'), VIEWS);
  fs.writeFileSync(path.join(project, 'mysite', 'urls.py'), URLS);
  fs.appendFileSync(path.join(project, 'mysite', 'settings.py'), SETTINGS);
  ({ engine, logs } = await startEngine({ python: DEBIAN_PYTHON }));
  const handler = engine.mount(path.join(project, 'mysite', 'wsgi.py'), {
    mountPoint: '/dj',
    group: 'django',
    groupOptions: { pythonPath: [project] },
  });
  server = await serve(handler);
  const warm = await request(`${server.url}/dj/`);
  if (warm.status !== 200) throw new Error(`warm-up: ${warm.status} ${warm.text()}\n${logs.text()}`);
});

test.after.always(async () => {
  await server?.close();
  await engine?.close();
});

test('a page, with reverse() URLs under SCRIPT_NAME', async (t) => {
  const r = await request(`${server.url}/dj/`);
  t.is(r.status, 200);
  t.regex(String(r.headers['content-type']), /^text\/html/);
  t.true(r.text().includes('<h1>Django on pyhost</h1>'));
  t.true(r.text().includes('script_name=/dj path=/dj/'), r.text());
  t.true(r.text().includes('href="/dj/form/"'));
});

test('CSRF-protected form: GET sets the token, POST with it redirects, POST without it is 403', async (t) => {
  const page = await request(`${server.url}/dj/form/`);
  t.is(page.status, 200);
  const setCookie = ([] as string[]).concat(page.headers['set-cookie'] ?? []);
  const cookie = setCookie.map((c) => c.split(';')[0]).find((c) => c.startsWith('csrftoken='));
  t.truthy(cookie, 'csrftoken cookie set');
  const token = /name="csrfmiddlewaretoken" value="([^"]+)"/.exec(page.text())?.[1];
  t.truthy(token, 'token in the form');
  t.true(page.text().includes('action="/dj/form/"'));

  const ok = await request(`${server.url}/dj/form/`, {
    method: 'POST',
    body: new URLSearchParams({ csrfmiddlewaretoken: token!, name: 'Ada' }).toString(),
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', Cookie: cookie! },
  });
  t.is(ok.status, 302, ok.text().slice(0, 300));
  t.is(ok.headers.location, '/dj/thanks/?name=Ada');
  const thanks = await request(`${server.url}${ok.headers.location}`);
  t.is(thanks.text(), 'thanks Ada');

  const forged = await request(`${server.url}/dj/form/`, {
    method: 'POST',
    body: 'name=Mallory',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
  });
  t.is(forged.status, 403);
});

test('file upload (multipart): small in memory, large spooled to disk, both hashed correctly', async (t) => {
  for (const size of [10_000, 4 * 1024 * 1024 + 3]) {
    const data = crypto.randomBytes(size);
    const form = new FormData();
    form.append('title', `file of ${size}`);
    form.append('file', new Blob([data]), `upload-${size}.bin`);
    const r = await fetch(`${server.url}/dj/upload/`, { method: 'POST', body: form });
    t.is(r.status, 200, `size ${size}`);
    t.deepEqual(await r.json(), {
      name: `upload-${size}.bin`,
      size,
      sha256: crypto.createHash('sha256').update(data).digest('hex'),
      on_disk: size > 2.5 * 1024 * 1024,
      title: `file of ${size}`,
    });
  }
});

test('JSON view with URL parameters and a query string', async (t) => {
  const r = await request(`${server.url}/dj/api/caf%C3%A9/?a=1&b=two`);
  t.is(r.status, 200);
  t.deepEqual(r.json(), { key: 'café', method: 'GET', query: { a: '1', b: 'two' }, script_name: '/dj', path_info: '/api/café/' });
});

test('DEBUG False: unknown URL is 404, a disallowed Host is 400', async (t) => {
  const r = await request(`${server.url}/dj/nope/`);
  t.is(r.status, 404);
  t.true(r.text().includes('Not Found'));
  t.false(r.text().includes('urlpatterns'), 'no debug page');
  const bad = await request(`${server.url}/dj/`, { headers: { Host: 'evil.example' } });
  t.is(bad.status, 400);
});

test('concurrent requests across views', async (t) => {
  const rs = await Promise.all(Array.from({ length: 16 }, (_, i) => request(`${server.url}/dj/api/k${i}/?i=${i}`)));
  t.deepEqual(
    rs.map((r) => r.json().key),
    Array.from({ length: 16 }, (_, i) => `k${i}`),
  );
  t.deepEqual(logs.errors('django').map((r) => r.message), []);
});
