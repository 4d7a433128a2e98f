// The catalog of guest images: which manifest files make up each bootable image.
// Where the bytes come from (file: URLs in Node, bundled assets in the browser)
// is decided by the caller's resolve function.
import manifest from '../../images/manifest.json' with { type: 'json' };
import type { GuestImage, ImageFile } from '../protocol/guest-api.ts';
import { minMemoryMiBForInitrd } from '../core/memory-size.ts';
import { HvError } from '../core/errors.ts';

interface ManifestEntry {
  bytes: number;
  sha256: string;
  package: string;
  version: string;
  description: string;
}

export const MANIFEST = manifest as { files: Record<string, ManifestEntry> };

interface ImageDef {
  id: string;
  label: string;
  kernel: string;
  cmdline: string;
  bootInterpreted: boolean;
}

// Shared by every image: the serial console, and no RCU stall warnings when a
// guest is descheduled or paused for long (its clock follows the host's).
const COMMON_CMDLINE = 'console=ttyS0 rcupdate.rcu_cpu_stall_suppress=1 mitigations=off tsc=reliable';

// bootInterpreted (see BootSpec.jitAfterReady), measured in Node: the small
// kernel's boot (0.04 billion instructions) took 2.0 s interpreted against 3.0 s
// compiled; Debian's (6.4 billion, a kernel decompressor among them) 43 s
// against 13 s.
const DEFS: ImageDef[] = [
  { id: 'hv', label: 'Linux 6.1 small (built for v86)', kernel: 'vmlinuz-hv.bin', cmdline: `${COMMON_CMDLINE} quiet`, bootInterpreted: true },
  {
    id: 'debian',
    label: 'Linux 6.1 Debian generic (686)',
    kernel: 'vmlinuz-debian.bin',
    cmdline: `${COMMON_CMDLINE} quiet loglevel=3`,
    bootInterpreted: false,
  },
];

export type ResolveImageUrl = (fileName: string) => string;

function file(name: string, resolve: ResolveImageUrl): ImageFile {
  const entry = MANIFEST.files[name];
  if (!entry) throw new HvError('image-missing', `image file ${name} is not listed in images/manifest.json`, { file: name });
  return { name, url: resolve(name), bytes: entry.bytes, sha256: entry.sha256 };
}

/** Every image whose files are all in the manifest, first the default one. */
export function imageCatalog(resolve: ResolveImageUrl): GuestImage[] {
  return DEFS.filter((d) => MANIFEST.files[d.kernel]).map((d) => ({
    id: d.id,
    label: d.label,
    bios: file('seabios.bin', resolve),
    vgaBios: file('vgabios.bin', resolve),
    kernel: file(d.kernel, resolve),
    initrd: file('initramfs.cpio', resolve),
    cmdline: d.cmdline,
    bootInterpreted: d.bootInterpreted,
  }));
}

/** Smallest RAM (MiB) a guest of this image can boot with: v86 puts the initrd at 64 MiB. */
export function imageMinMemoryMiB(image: GuestImage): number {
  return minMemoryMiBForInitrd(image.initrd.bytes);
}

/** The image with this id (the first, the default, when none is named); not-found names the ones there are. */
export function imageById(images: readonly GuestImage[], id?: string): GuestImage {
  const image = id === undefined ? images[0] : images.find((i) => i.id === id);
  if (!image) throw new HvError('not-found', `there is no image "${id}"; available: ${images.map((i) => i.id).join(', ')}`, { image: id });
  return image;
}
