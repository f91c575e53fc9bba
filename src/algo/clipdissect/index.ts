export * from './similarity.ts';
export * from './csv.ts';
export { jsGemm, gatherRows, transpose, type Gemm } from './gemm.ts';
export * from './agreement.ts';
export { ClipTokenizer, htmlUnescape } from './tokenizer.ts';
