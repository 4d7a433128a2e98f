// `npm run lab:scorm FILE [--out ZIP] [--site-url URL | --site-dir DIR]`: a lab as a SCORM 1.2
// package (a zip with imsmanifest.xml) for an LMS such as Moodle or Canvas.
// Its index.html frames the lab and relays the lab's messages to the SCORM
// API (scorm/scorm.js): the LMS stores the score and completion itself.
//   default          the built site (dist/) goes inside, with the lab: works offline in the LMS
//   --site-dir DIR   another build of the site goes inside instead of dist/
//   --site-url URL   a thin package that frames the lab on a hosted copy of the site
//                    (the lab file must be there too: --lab-url, default labs/NAME)
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { zipSync } from 'fflate';
import { formatProblem } from '../src/core/lab/locate.ts';
import { parseLab } from '../src/core/lab/parse.ts';
import { labContext } from '../src/host/lab/lab-session.ts';
import { nodeImages } from '../src/host/node-images.ts';

const root = fileURLToPath(new URL('..', import.meta.url));

const xml = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function option(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

/** Every file below dir, as zip paths under prefix. */
function addTree(files: Record<string, Uint8Array>, dir: string, prefix: string): void {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) addTree(files, path, `${prefix}${name}/`);
    else files[`${prefix}${name}`] = readFileSync(path);
  }
}

export function manifest(id: string, title: string, files: string[]): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<manifest identifier="${xml(id)}" version="1.0"
  xmlns="http://www.imsproject.org/xsd/imscp_rootv1p1p2"
  xmlns:adlcp="http://www.adlnet.org/xsd/adlcp_rootv1p2"
  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
  xsi:schemaLocation="http://www.imsproject.org/xsd/imscp_rootv1p1p2 imscp_rootv1p1p2.xsd http://www.imsglobal.org/xsd/imsmd_rootv1p2p1 imsmd_rootv1p2p1.xsd http://www.adlnet.org/xsd/adlcp_rootv1p2 adlcp_rootv1p2.xsd">
  <metadata><schema>ADL SCORM</schema><schemaversion>1.2</schemaversion></metadata>
  <organizations default="org">
    <organization identifier="org">
      <title>${xml(title)}</title>
      <item identifier="item" identifierref="lab" isvisible="true">
        <title>${xml(title)}</title>
        <adlcp:masteryscore>100</adlcp:masteryscore>
      </item>
    </organization>
  </organizations>
  <resources>
    <resource identifier="lab" type="webcontent" adlcp:scormtype="sco" href="index.html">
${files.map((f) => `      <file href="${xml(f)}"/>`).join('\n')}
    </resource>
  </resources>
</manifest>
`;
}

function wrapper(title: string, config: { labPage: string; lab: string }): string {
  return `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <title>${xml(title)}</title>
    <style>html,body{height:100%;margin:0;font-family:system-ui,sans-serif}body{display:flex;flex-direction:column}iframe{flex:1;border:0;width:100%}#status{margin:0;padding:2px 8px;font-size:13px;color:#57606a}</style>
  </head>
  <body>
    <p id="status">Loading…</p>
    <iframe id="lab" title="${xml(title)}" allow="clipboard-read; clipboard-write"></iframe>
    <script type="application/json" id="hv-scorm">${JSON.stringify(config).replace(/</g, '\\u003c')}</script>
    <script src="scorm.js"></script>
  </body>
</html>
`;
}

export function packScorm(args: string[]): number {
  const file = args.find((a, i) => !a.startsWith('--') && !args[i - 1]?.startsWith('--'));
  if (!file) {
    console.error('usage: npm run lab:scorm FILE [--out ZIP] [--site-url URL [--lab-url URL]]');
    return 2;
  }
  const text = readFileSync(file, 'utf8');
  const parsed = parseLab(text, labContext(nodeImages()));
  if (!parsed.ok) {
    for (const p of parsed.problems) console.error(formatProblem(file, p));
    return 1;
  }
  const name = basename(file);
  const out = option(args, '--out') ?? `${name.replace(/\.ya?ml$/, '')}-scorm.zip`;
  const siteUrl = option(args, '--site-url');
  const files: Record<string, Uint8Array> = {};
  let config: { labPage: string; lab: string };
  if (siteUrl) {
    config = { labPage: siteUrl, lab: option(args, '--lab-url') ?? `labs/${name}` };
  } else {
    const dist = option(args, '--site-dir') ?? join(root, 'dist');
    if (!existsSync(join(dist, 'index.html'))) {
      console.error(`${relative(process.cwd(), dist)}/index.html is missing: run npm run build first (the package carries the built site)`);
      return 1;
    }
    addTree(files, dist, 'site/');
    files[`site/labs/${name}`] = new TextEncoder().encode(text);
    config = { labPage: 'site/index.html', lab: `labs/${name}` };
  }
  const enc = new TextEncoder();
  files['index.html'] = enc.encode(wrapper(parsed.lab.title, config));
  files['scorm.js'] = readFileSync(new URL('./scorm/scorm.js', import.meta.url));
  files['imsmanifest.xml'] = enc.encode(manifest(`hv-lab-${name.replace(/[^a-z0-9]+/gi, '-')}`, parsed.lab.title, Object.keys(files).sort()));
  const zip = zipSync(files, { level: 6 });
  writeFileSync(out, zip);
  console.log(`wrote ${out}: ${Object.keys(files).length} files, ${(zip.byteLength / 1048576).toFixed(1)} MiB (${siteUrl ? `frames ${siteUrl}` : 'the site inside'})`);
  return 0;
}
