"""A small Flask page: one route rendering a Jinja template with a loop (Debian's python3-flask).

root_path is set explicitly because mod_wsgi and uWSGI load this file under a generated module
name, and Flask would otherwise look for templates relative to the wrong place.
"""

import os

from flask import Flask, render_template

HERE = os.path.dirname(os.path.abspath(__file__))

app = Flask(__name__, root_path=HERE, template_folder="templates")

ITEMS = [
    {"id": i, "name": "item-%02d" % i, "price": (i * 37) % 100 + 0.99, "tags": ["t%d" % (i % 3), "t%d" % (i % 5)]}
    for i in range(1, 21)
]


@app.route("/")
def index():
    return render_template("page.html", title="pyhost bench", items=ITEMS, total=sum(i["price"] for i in ITEMS))


application = app
