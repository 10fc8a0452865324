/** The model layer: loading, saving and wrapping classifiers as robust {@link Model}s. */
export type { Bounds, InputLayout, Model, ModelAccess, ModelEngine, Normalization } from './types.js';
export type { OnnxInfo } from './onnx/load.js';
export { loadModel, setDefaultEngine, type EngineChoice, type LoadModelOptions, type LoadedModel, type LogitsFunction, type LogitsMode, type ModelSource } from './load.js';
export {
  asBinaryClassifier,
  checkOutputMode,
  logitOfProbability,
  OUTPUT_MODES,
  PROBABILITY_CLIP,
  type BinaryClassifierOptions,
  type BinaryOutput,
  type OutputMode,
} from './binary.js';
export { saveLayersModel, type SaveModelOptions } from './save.js';
export { scaleFeatures, scaleInputs } from './scaled.js';
export {
  fileLoadHandler,
  fileSaveHandler,
  readModelFiles,
  resolveModelJson,
  type FileSaveHandler,
  type ModelFiles,
  type ModelFormat,
  type SaveHandlerOptions,
  type SavedModelFiles,
} from './io.js';
export { DEFAULT_BOUNDS, checkBounds, checkNormalization, readRobustMetadata, type RobustMetadata } from './metadata.js';
export { buildReferenceCnn, REFERENCE_INPUT_SHAPE } from './reference.js';
export { ARCHITECTURES, buildMobileNetV2, buildResNet18, buildResNet20, type ArchitectureName, type ArchitectureOptions } from './architectures.js';
export { compileGraph, foldGraph, graphFromLayers, optimizeLayersModel, type CompiledGraph, type OptNode, type OptOp, type OptimizeOptions } from './optimize.js';
export { nativeEngine, nativeEngineAvailable, type NativeEngine, type NativeEngineOptions, type ObjectiveWeights } from './native/engine.js';
export { buildNativeGraphs, supportsGraph, type NativeGraphs } from './native/onnxGraph.js';
export { fusedGradientOf, registerFusedGradient, type FusedGradient, type StandardObjective } from './fused.js';
