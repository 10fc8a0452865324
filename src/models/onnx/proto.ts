/**
 * Reading an ONNX ModelProto with the official `onnx.proto` (compiled for protobufjs by `onnx-proto`):
 * tensors become host arrays ({@link HostValue}), attributes plain numbers, strings and arrays.
 * Nothing here touches TF.js.
 */
import onnxProto from 'onnx-proto';
import { InputError, errorMessage } from '../../errors.js';

export const onnx = onnxProto.onnx;
export type ModelProto = onnxProto.onnx.ModelProto;
export type NodeProto = onnxProto.onnx.INodeProto;
export type TensorProto = onnxProto.onnx.ITensorProto;

/** An int64 as protobufjs hands it over: a number, or a Long when the value needs 64 bits. */
type IntLike = number | { toNumber(): number };

/** A number from a protobuf integer (int64 values beyond 2^53 lose precision, which only matters for INT64_MAX-style sentinels). */
export function toNumber(value: IntLike | null | undefined): number {
  if (value === null || value === undefined) return 0;
  return typeof value === 'number' ? value : value.toNumber();
}

/**
 * A constant held on the host: float tensors as float32, integer and bool tensors as float64 (exact for
 * every shape and index value; int64 sentinels such as INT64_MAX round, which is harmless for clamping).
 */
export interface HostValue {
  kind: 'host';
  data: Float32Array | Float64Array;
  shape: number[];
  /** True for integer and bool tensors. */
  integer: boolean;
}

/** A host value from its parts. */
export function host(data: Float32Array | Float64Array | number[], shape: number[], integer: boolean): HostValue {
  const array = Array.isArray(data) ? (integer ? Float64Array.from(data) : Float32Array.from(data)) : data;
  return { kind: 'host', data: array, shape, integer };
}

const T = onnx.TensorProto.DataType;
const FLOATS = new Set<number>([T.FLOAT, T.DOUBLE, T.FLOAT16]);
const INTEGERS = new Set<number>([T.INT64, T.INT32, T.INT16, T.INT8, T.UINT8, T.UINT16, T.UINT32, T.UINT64, T.BOOL]);

/** Bytes per element of the raw little-endian encoding, by ONNX data type. */
const RAW_BYTES: Record<number, number> = {
  [T.FLOAT]: 4, [T.DOUBLE]: 8, [T.FLOAT16]: 2, [T.INT64]: 8, [T.INT32]: 4, [T.INT16]: 2, [T.INT8]: 1,
  [T.UINT8]: 1, [T.UINT16]: 2, [T.UINT32]: 4, [T.UINT64]: 8, [T.BOOL]: 1,
};

/** Whether robust can hold tensors of this ONNX data type. */
export function supportedDataType(dataType: number): boolean {
  return FLOATS.has(dataType) || INTEGERS.has(dataType);
}

/** Element count of a shape. */
export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** How many bytes the raw encoding of a tensor of this type and shape takes. */
export function rawByteLength(dataType: number, shape: readonly number[]): number {
  return (RAW_BYTES[dataType] ?? 0) * sizeOf(shape);
}

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 31) return fraction === 0 ? sign * Infinity : NaN;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

function decodeRaw(raw: Uint8Array, dataType: number, count: number): number[] | Float32Array {
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const out = new Array<number>(count);
  for (let i = 0; i < count; i++) {
    switch (dataType) {
      case T.FLOAT: out[i] = view.getFloat32(4 * i, true); break;
      case T.DOUBLE: out[i] = view.getFloat64(8 * i, true); break;
      case T.FLOAT16: out[i] = halfToFloat(view.getUint16(2 * i, true)); break;
      case T.INT64: out[i] = Number(view.getBigInt64(8 * i, true)); break;
      case T.UINT64: out[i] = Number(view.getBigUint64(8 * i, true)); break;
      case T.INT32: out[i] = view.getInt32(4 * i, true); break;
      case T.UINT32: out[i] = view.getUint32(4 * i, true); break;
      case T.INT16: out[i] = view.getInt16(2 * i, true); break;
      case T.UINT16: out[i] = view.getUint16(2 * i, true); break;
      case T.INT8: out[i] = view.getInt8(i); break;
      default: out[i] = view.getUint8(i); // UINT8, BOOL
    }
  }
  return out;
}

/**
 * A tensor's values as a {@link HostValue}. `raw` replaces the tensor's own raw data (external data
 * already read by the caller). `where` names the model in errors.
 */
export function tensorValue(t: TensorProto, where: string, raw?: Uint8Array): HostValue {
  const name = t.name ?? '(unnamed)';
  const dataType = t.dataType ?? 0;
  const shape = (t.dims ?? []).map((d) => toNumber(d));
  if (!supportedDataType(dataType)) {
    throw new InputError(`${where}: tensor ${name} has ONNX data type ${onnx.TensorProto.DataType[dataType] ?? dataType}, which robust does not read`);
  }
  const count = sizeOf(shape);
  const bytes = raw ?? (t.rawData !== null && t.rawData !== undefined && t.rawData.length > 0 ? t.rawData : undefined);
  let values: ArrayLike<number>;
  if (bytes !== undefined) {
    if (bytes.length !== rawByteLength(dataType, shape)) {
      throw new InputError(`${where}: tensor ${name} has ${bytes.length} bytes of data but shape [${shape.join(', ')}] needs ${rawByteLength(dataType, shape)}; the file is corrupt`);
    }
    values = decodeRaw(bytes, dataType, count);
  } else {
    const typed = t.floatData?.length ? t.floatData : t.doubleData?.length ? t.doubleData : t.int32Data?.length ? t.int32Data : undefined;
    const longs = t.int64Data?.length ? t.int64Data : t.uint64Data?.length ? t.uint64Data : undefined;
    values = typed ?? (longs ?? []).map((v) => toNumber(v));
    if (values.length !== count) {
      throw new InputError(`${where}: tensor ${name} has ${values.length} values but shape [${shape.join(', ')}] needs ${count}; the file is corrupt`);
    }
    // float16 values sit in int32_data as their bit patterns.
    if (dataType === T.FLOAT16) values = Array.from(values, halfToFloat);
  }
  const integer = INTEGERS.has(dataType);
  return { kind: 'host', data: integer ? Float64Array.from(values) : Float32Array.from(values), shape, integer };
}

/** A node attribute as a plain value: number, string, number[], or a tensor. */
export type AttributeValue = number | string | number[] | HostValue;

/** The attributes of a node by name. `where` names the model in errors. */
export function attributes(node: NodeProto, where: string): Map<string, AttributeValue> {
  const out = new Map<string, AttributeValue>();
  const A = onnx.AttributeProto.AttributeType;
  for (const a of node.attribute ?? []) {
    const name = a.name ?? '';
    switch (a.type) {
      case A.FLOAT: out.set(name, a.f ?? 0); break;
      case A.INT: out.set(name, toNumber(a.i)); break;
      case A.STRING: out.set(name, new TextDecoder().decode(a.s ?? new Uint8Array())); break;
      case A.FLOATS: out.set(name, [...(a.floats ?? [])]); break;
      case A.INTS: out.set(name, (a.ints ?? []).map((v) => toNumber(v))); break;
      case A.TENSOR: if (a.t) out.set(name, tensorValue(a.t, where)); break;
      default: break; // graphs, sparse tensors and strings lists: no op in robust's table uses them
    }
  }
  return out;
}

/**
 * Decode the bytes of a `.onnx` file.
 * @throws InputError when the bytes are not an ONNX model.
 */
export function decodeModel(bytes: Uint8Array, where: string): ModelProto {
  let model: ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (err) {
    throw new InputError(`${where} is not a valid ONNX model (${errorMessage(err)}); re-export it with torch.onnx.export or tf2onnx`);
  }
  if (!model.graph) throw new InputError(`${where} is an ONNX file without a graph; re-export the model`);
  return model;
}
