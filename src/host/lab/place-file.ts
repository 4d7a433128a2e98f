// A shell script that writes a lab's file into a guest exactly (any bytes,
// any trailing newline): its content travels as base64 and is decoded there.
import { utf8ToBase64 } from '../agent-text.ts';
import { shQuote } from '../console-text.ts';

/** The script that creates `path` (and its directory) with `content` and mode (default 0644). */
export function placeFileScript(path: string, content: string, mode = '0644'): string {
  const b64 = utf8ToBase64(content).replace(/.{1,76}/g, '$&\n');
  const dir = path.slice(0, path.lastIndexOf('/')) || '/';
  return `mkdir -p ${shQuote(dir)} && base64 -d > ${shQuote(path)} <<'HV_FILE'\n${b64}HV_FILE\nchmod ${mode} ${shQuote(path)}\n`;
}
