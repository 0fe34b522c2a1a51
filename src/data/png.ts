/** PNG encode/decode for image features (LeRobot stores images as PNG bytes). Pure JS: same result in Node and the browser. */
import { decode, encode } from 'fast-png';
import { DatasetError, type ImageFrame } from './types.ts';

export function encodePng(img: ImageFrame): Uint8Array {
  // Level 1: frames are small and written once per step; the fastest deflate level
  // keeps generation CPU-bound on physics, not on zlib.
  return encode({ width: img.width, height: img.height, data: img.data, channels: img.channels, depth: 8 }, { zlib: { level: 1 } });
}

export function decodePng(bytes: Uint8Array, field = 'image'): ImageFrame {
  const png = decode(bytes);
  if (png.depth !== 8) throw new DatasetError(`${field}: only 8-bit PNG images are supported, got ${png.depth}-bit`, field);
  if (png.palette) throw new DatasetError(`${field}: palette PNG images are not supported`, field);
  const channels = png.channels as 1 | 3 | 4;
  return { width: png.width, height: png.height, channels, data: png.data as Uint8Array };
}
