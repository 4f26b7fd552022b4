// llhttp's http.c (Debian's node-llhttp, /usr/share/llhttp; or $PYHOST_LLHTTP), compiled here as
// it is: gyp builds only sources under this tree.
#include "http.c"
