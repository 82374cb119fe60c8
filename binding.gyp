# The native addons — gratuitous ARP (src/drivers/arp/native) and the health checks' TCP
# probe (src/check/native): npm builds them on `npm install` / `npm ci`
# because this file sits at the package root (npm runs `node-gyp rebuild` for a package
# with a binding.gyp and no install script). Output: build/Release/keepgit_arp.node
# and keepgit_tcp_probe.node.
{
  'targets': [
    {
      'target_name': 'keepgit_arp',
      'sources': ['src/drivers/arp/native/garp.c'],
      'cflags': ['-std=gnu11', '-Wall', '-Wextra', '-Werror'],
      'defines': ['NAPI_VERSION=8'],
      'conditions': [
        ['OS!="linux"', {'type': 'none', 'sources!': ['src/drivers/arp/native/garp.c']}],
      ],
    },
    {
      'target_name': 'keepgit_tcp_probe',
      'sources': ['src/check/native/tcp-probe.c'],
      'cflags': ['-std=gnu11', '-Wall', '-Wextra', '-Werror'],
      'defines': ['NAPI_VERSION=8'],
      'conditions': [
        ['OS!="linux"', {'type': 'none', 'sources!': ['src/check/native/tcp-probe.c']}],
      ],
    },
  ],
}
