/**
 * Feature specs: validation of specs and frames, and the parquet / Hugging Face schema
 * each dtype maps to, following LeRobot's get_hf_features_from_features: shape [1] is a
 * scalar column, shape [n] a list column, image a struct {bytes, path} (datasets.Image).
 */
import type { SchemaElement } from 'hyparquet';
import { DatasetError, type FeatureSpec, type Features, type FrameValue, type ImageFrame } from './types.ts';

export const DEFAULT_FEATURES: Features = {
  timestamp: { dtype: 'float32', shape: [1], names: null },
  frame_index: { dtype: 'int64', shape: [1], names: null },
  episode_index: { dtype: 'int64', shape: [1], names: null },
  index: { dtype: 'int64', shape: [1], names: null },
  task_index: { dtype: 'int64', shape: [1], names: null },
};

export const NUMERIC_DTYPES = new Set(['float32', 'float64', 'int32', 'int64', 'bool']);

export function featureDim(spec: FeatureSpec): number {
  return spec.shape.reduce((a, b) => a * b, 1);
}

export function isVector(spec: FeatureSpec): boolean {
  return !(spec.shape.length === 1 && spec.shape[0] === 1);
}

/** Throws a DatasetError naming the feature when a spec cannot be written. */
export function validateFeatureSpecs(features: Features): void {
  for (const [name, spec] of Object.entries(features)) {
    if (name.includes('/')) throw new DatasetError(`feature "${name}": names must not contain "/" (LeRobot uses it to flatten episode stats)`, name);
    if (name === 'task') throw new DatasetError(`feature "task" is reserved: pass the task to saveEpisode or as frame.task`, name);
    if (!Array.isArray(spec.shape) || spec.shape.length === 0 || spec.shape.some((d) => !Number.isInteger(d) || d < 1)) {
      throw new DatasetError(`feature "${name}": shape must be a non-empty list of positive integers, got ${JSON.stringify(spec.shape)}`, name);
    }
    if (spec.dtype === 'image') {
      const [, , c] = spec.shape;
      if (spec.shape.length !== 3 || ![1, 3, 4].includes(c)) {
        throw new DatasetError(`feature "${name}": image shape must be [height, width, channels] with 1, 3 or 4 channels, got ${JSON.stringify(spec.shape)}`, name);
      }
    } else if (spec.dtype === 'video') {
      throw new DatasetError(`feature "${name}": writing video features is not supported; use dtype "image"`, name);
    } else if (NUMERIC_DTYPES.has(spec.dtype) || spec.dtype === 'string') {
      if (spec.shape.length !== 1) throw new DatasetError(`feature "${name}": ${spec.dtype} features must be 1-D (shape [n]), got ${JSON.stringify(spec.shape)}`, name);
      if (spec.dtype === 'string' && spec.shape[0] !== 1) throw new DatasetError(`feature "${name}": string features must have shape [1]`, name);
    } else {
      throw new DatasetError(`feature "${name}": unknown dtype "${String(spec.dtype)}"`, name);
    }
  }
}

function isImageFrame(v: unknown): v is ImageFrame {
  return typeof v === 'object' && v !== null && 'data' in v && 'width' in v && 'height' in v;
}

/**
 * Checks one value against its spec and returns it normalised: numbers for numeric
 * features (a number[] of length dim), a string, or the image itself.
 */
export function checkValue(name: string, spec: FeatureSpec, value: FrameValue | undefined, allowNaN: boolean): number[] | string | ImageFrame {
  if (value === undefined || value === null) throw new DatasetError(`frame is missing feature "${name}"`, name);
  if (spec.dtype === 'string') {
    if (typeof value !== 'string') throw new DatasetError(`feature "${name}": expected a string, got ${typeof value}`, name);
    return value;
  }
  if (spec.dtype === 'image') {
    if (!isImageFrame(value)) throw new DatasetError(`feature "${name}": expected an image {width, height, channels, data}`, name);
    const [h, w, c] = spec.shape;
    if (value.width !== w || value.height !== h || value.channels !== c) {
      throw new DatasetError(`feature "${name}": image is ${value.height}x${value.width}x${value.channels}, expected ${h}x${w}x${c}`, name);
    }
    if (!(value.data instanceof Uint8Array) || value.data.length !== h * w * c) {
      throw new DatasetError(`feature "${name}": image data must be a Uint8Array of ${h * w * c} bytes (HWC), got ${value.data?.length}`, name);
    }
    return value;
  }
  const dim = featureDim(spec);
  let arr: number[];
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') {
    arr = [Number(value)];
  } else if (typeof value === 'object' && 'length' in value && !isImageFrame(value)) {
    arr = Array.from(value as ArrayLike<number>, Number);
  } else {
    throw new DatasetError(`feature "${name}": expected ${dim === 1 ? 'a number' : `${dim} numbers`}, got ${typeof value}`, name);
  }
  if (arr.length !== dim) throw new DatasetError(`feature "${name}": expected shape [${spec.shape}] (${dim} values), got ${arr.length} values`, name);
  for (let i = 0; i < dim; i++) {
    const v = arr[i];
    if (Number.isNaN(v)) {
      if (!allowNaN || spec.dtype !== 'float32' && spec.dtype !== 'float64') {
        throw new DatasetError(`feature "${name}": value ${i} is NaN (list the feature in allowNaN if that is intended)`, name);
      }
    } else if (!Number.isFinite(v)) {
      throw new DatasetError(`feature "${name}": value ${i} is ${v}; only finite numbers can be stored`, name);
    } else if ((spec.dtype === 'int64' || spec.dtype === 'int32') && !Number.isInteger(v)) {
      throw new DatasetError(`feature "${name}": value ${i} = ${v} is not an integer (dtype ${spec.dtype})`, name);
    } else if (spec.dtype === 'int32' && (v < -(2 ** 31) || v >= 2 ** 31)) {
      throw new DatasetError(`feature "${name}": value ${i} = ${v} does not fit int32`, name);
    } else if (spec.dtype === 'bool' && v !== 0 && v !== 1) {
      throw new DatasetError(`feature "${name}": value ${i} = ${v} is not a boolean`, name);
    }
  }
  return arr;
}

const PARQUET_TYPE: Record<string, Pick<SchemaElement, 'type' | 'converted_type'>> = {
  float32: { type: 'FLOAT' },
  float64: { type: 'DOUBLE' },
  int32: { type: 'INT32' },
  int64: { type: 'INT64' },
  bool: { type: 'BOOLEAN' },
  string: { type: 'BYTE_ARRAY', converted_type: 'UTF8' },
};

/** Parquet schema elements of one feature column (pyarrow-style 3-level lists). */
export function schemaElements(name: string, spec: FeatureSpec): SchemaElement[] {
  if (spec.dtype === 'image') {
    return [
      { name, repetition_type: 'OPTIONAL', num_children: 2 },
      { name: 'bytes', type: 'BYTE_ARRAY', repetition_type: 'OPTIONAL' },
      { name: 'path', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
    ];
  }
  const leaf = PARQUET_TYPE[spec.dtype];
  if (!isVector(spec)) return [{ name, ...leaf, repetition_type: 'OPTIONAL' }];
  return [
    { name, repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 },
    { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
    { name: 'element', ...leaf, repetition_type: 'OPTIONAL' },
  ];
}

/** The datasets.Features JSON that Hugging Face `datasets` reads from parquet metadata. */
export function hfFeatureJson(spec: FeatureSpec): unknown {
  if (spec.dtype === 'image') return { _type: 'Image' };
  const value = { dtype: spec.dtype === 'bool' ? 'bool' : spec.dtype, _type: 'Value' };
  return isVector(spec) ? { feature: value, length: spec.shape[0], _type: 'Sequence' } : value;
}
