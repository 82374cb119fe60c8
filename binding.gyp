# The ARP addon (src/drivers/arp/native): npm builds it on `npm install` / `npm ci`
# because this file sits at the package root (npm runs `node-gyp rebuild` for a package
# with a binding.gyp and no install script). Output: build/Release/keepgit_arp.node.
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
  ],
}
