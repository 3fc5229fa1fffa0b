/* y[M][N] = x[M][K] . W[N][K]^T in fp32 with AVX2 + FMA, W packed once into panels of 16 output
 * features: panels[N/16][K][16] (the last panel zero-padded). See cpu_gemm.py for why this exists.
 *
 * Decoding runs this with M = 1..16 rows, where every weight is read once per step from memory:
 * one row is bound by memory bandwidth (the panel is read in order, 64 bytes per k), sixteen rows by
 * arithmetic (12 accumulators in registers per 6-row tile; the panel stays in L1 between tiles).
 * Threads split the panels; the OpenMP runtime is torch's own (linked by path, see cpu_gemm.py).
 */
#include <immintrin.h>
#include <omp.h>
#include <math.h>
#include <stdint.h>

/* y[R][cols] = x[R][K] . panel[K][16]. R is a constant at every call site, so the 2R accumulators
 * stay in registers (R <= 6: 12 accumulators + 2 weight vectors + 1 broadcast of the 16 AVX2 has).
 * `next`, when set, is the following panel: one 64-byte line of it per k is prefetched into L2, so
 * that reading it from memory overlaps this panel's arithmetic (at 16 rows: 41 -> 29 ms a step). */
static inline __attribute__((always_inline)) void tile(int R, const float *panel, const float *x, int64_t ldx,
                                                       float *y, int64_t ldy, int64_t K, int cols, const char *next) {
    __m256 acc[6][2];
#pragma GCC unroll 6
    for (int r = 0; r < R; r++) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
    for (int64_t k = 0; k < K; k++) {
        __m256 w0 = _mm256_load_ps(panel + 16 * k), w1 = _mm256_load_ps(panel + 16 * k + 8);
        if (next) _mm_prefetch(next + 64 * k, _MM_HINT_T1);
#pragma GCC unroll 6
        for (int r = 0; r < R; r++) {
            __m256 b = _mm256_broadcast_ss(x + r * ldx + k);
            acc[r][0] = _mm256_fmadd_ps(b, w0, acc[r][0]);
            acc[r][1] = _mm256_fmadd_ps(b, w1, acc[r][1]);
        }
    }
    float spill[16];
#pragma GCC unroll 6
    for (int r = 0; r < R; r++) {
        float *out = cols == 16 ? y + r * ldy : spill;
        _mm256_storeu_ps(out, acc[r][0]);
        _mm256_storeu_ps(out + 8, acc[r][1]);
        if (cols != 16)
            for (int j = 0; j < cols; j++) y[r * ldy + j] = spill[j];
    }
}

/* One row is bound by memory, not arithmetic: four independent accumulator pairs hide the FMA
 * latency so that the loads, not the adds, set the pace. */
static void one_row(const float *panel, const float *x, float *y, int64_t K, int cols) {
    __m256 acc[4][2];
    for (int u = 0; u < 4; u++) acc[u][0] = acc[u][1] = _mm256_setzero_ps();
    int64_t k = 0;
    for (; k + 4 <= K; k += 4) {
#pragma GCC unroll 4
        for (int u = 0; u < 4; u++) {
            __m256 b = _mm256_broadcast_ss(x + k + u);
            acc[u][0] = _mm256_fmadd_ps(b, _mm256_load_ps(panel + 16 * (k + u)), acc[u][0]);
            acc[u][1] = _mm256_fmadd_ps(b, _mm256_load_ps(panel + 16 * (k + u) + 8), acc[u][1]);
        }
    }
    for (; k < K; k++) {
        __m256 b = _mm256_broadcast_ss(x + k);
        acc[0][0] = _mm256_fmadd_ps(b, _mm256_load_ps(panel + 16 * k), acc[0][0]);
        acc[0][1] = _mm256_fmadd_ps(b, _mm256_load_ps(panel + 16 * k + 8), acc[0][1]);
    }
    __m256 lo = _mm256_add_ps(_mm256_add_ps(acc[0][0], acc[1][0]), _mm256_add_ps(acc[2][0], acc[3][0]));
    __m256 hi = _mm256_add_ps(_mm256_add_ps(acc[0][1], acc[1][1]), _mm256_add_ps(acc[2][1], acc[3][1]));
    float spill[16];
    float *out = cols == 16 ? y : spill;
    _mm256_storeu_ps(out, lo);
    _mm256_storeu_ps(out + 8, hi);
    if (cols != 16)
        for (int j = 0; j < cols; j++) y[j] = spill[j];
}

/* panels: 32-byte aligned, [ceil(N/16)][K][16]; x: [M][K] contiguous; y: [M][N] contiguous. */
void exaone_gemm_f32(const float *panels, const float *x, float *y, int64_t M, int64_t N, int64_t K, int threads) {
    int64_t blocks = (N + 15) / 16;
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int64_t nb = 0; nb < blocks; nb++) {
        const float *panel = panels + nb * K * 16;
        int cols = N - nb * 16 < 16 ? (int)(N - nb * 16) : 16;
        float *out = y + nb * 16;
        if (M == 1) {
            one_row(panel, x, out, K, cols);
            continue;
        }
        const char *next = nb + 1 < blocks ? (const char *)(panel + K * 16) : 0;
        for (int64_t m = 0; m < M; m += 6, next = 0) {  /* prefetch during the first tile only */
            const float *xm = x + m * K;
            float *ym = out + m * N;
            switch (M - m < 6 ? M - m : 6) {
            case 1: tile(1, panel, xm, K, ym, N, K, cols, next); break;
            case 2: tile(2, panel, xm, K, ym, N, K, cols, next); break;
            case 3: tile(3, panel, xm, K, ym, N, K, cols, next); break;
            case 4: tile(4, panel, xm, K, ym, N, K, cols, next); break;
            case 5: tile(5, panel, xm, K, ym, N, K, cols, next); break;
            default: tile(6, panel, xm, K, ym, N, K, cols, next);
            }
        }
    }
}

/* exp(x) for 8 floats: x = n ln2 + r with |r| <= ln2/2, exp(r) by its Taylor series to r^7 (the
 * first dropped term, r^8/8!, is below 6e-9 relative: under fp32's rounding), times 2^n built in the
 * exponent bits. Inputs below -87 (exp < 1.6e-38, and -inf from a mask) give exactly 0. */
static inline __m256 exp8(__m256 x) {
    const __m256 lo = _mm256_set1_ps(-87.0f), hi = _mm256_set1_ps(88.0f);
    __m256 dead = _mm256_cmp_ps(x, lo, _CMP_LT_OQ);
    x = _mm256_min_ps(_mm256_max_ps(x, lo), hi);
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693145751953125f), x);  /* ln2 in two parts: exact n * hi */
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(1.428606765330187e-06f), r);
    __m256 p = _mm256_set1_ps(1.0f / 5040);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 720));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    __m256i scale = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_andnot_ps(dead, _mm256_mul_ps(p, _mm256_castsi256_ps(scale)));
}

static inline float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
}

/* The 8 sums of 8 vectors, as one vector (sums[i] = sum of v[i]). */
static inline __m256 hsum8x8(const __m256 *v) {
    __m256 a = _mm256_hadd_ps(v[0], v[1]), b = _mm256_hadd_ps(v[2], v[3]);
    __m256 c = _mm256_hadd_ps(v[4], v[5]), d = _mm256_hadd_ps(v[6], v[7]);
    __m256 ab = _mm256_hadd_ps(a, b), cd = _mm256_hadd_ps(c, d);  /* lanes: [0..3 lo | 0..3 hi], [4..7 lo | 4..7 hi] */
    __m256 lo = _mm256_permute2f128_ps(ab, cd, 0x20), hi = _mm256_permute2f128_ps(ab, cd, 0x31);
    return _mm256_add_ps(lo, hi);
}

/* out[g] = sum_s p[g][s] * v[s] for the G query heads of one KV head, 16 dims at a time. G is a
 * constant at each call site (<= 6), so the 2G accumulators stay in registers and each value
 * vector is loaded once for all G heads. */
static inline __attribute__((always_inline)) void weigh_values(int G, const float *p, int64_t S, const float *v,
                                                               int64_t D, float *out, const float *inv) {
    for (int64_t d = 0; d < D; d += 16) {
        int two = d + 16 <= D;
        __m256 acc[6][2];
#pragma GCC unroll 6
        for (int g = 0; g < G; g++) acc[g][0] = acc[g][1] = _mm256_setzero_ps();
        for (int64_t s = 0; s < S; s++) {
            __m256 v0 = _mm256_loadu_ps(v + s * D + d), v1 = two ? _mm256_loadu_ps(v + s * D + d + 8) : v0;
#pragma GCC unroll 6
            for (int g = 0; g < G; g++) {
                __m256 w = _mm256_broadcast_ss(p + g * S + s);
                acc[g][0] = _mm256_fmadd_ps(w, v0, acc[g][0]);
                acc[g][1] = _mm256_fmadd_ps(w, v1, acc[g][1]);
            }
        }
#pragma GCC unroll 6
        for (int g = 0; g < G; g++) {
            __m256 f = _mm256_set1_ps(inv[g]);
            _mm256_storeu_ps(out + g * D + d, _mm256_mul_ps(acc[g][0], f));
            if (two) _mm256_storeu_ps(out + g * D + d + 8, _mm256_mul_ps(acc[g][1], f));
        }
    }
}

/* One decoding step of attention (one new query per sequence) over a KV cache, softmax(q.k * scale
 * + mask) . v, with grouped-query heads (query heads j*G .. j*G+G-1 read KV head j, G = H / KV).
 * Work is split by (row, KV head), and each key and value is read once for all G query heads:
 * scores of every visible slot first (8 keys at a time), then the softmax, then the weighted sum.
 *   q, out: [B][H][D];  keys, values: slot s of KV head j of row b at b*row_stride + j*head_stride + s*D;
 *   mask: [B][S] additive (0 or -inf); scratch: S * H floats per thread, threads * S * H in all.
 *   D is a multiple of 8. A row that sees no key gets zeros (SDPA would give NaN). */
void exaone_decode_attention(const float *q, const float *keys, const float *values, const float *mask, float *out,
                             float *scratch, int64_t B, int64_t H, int64_t KV, int64_t S, int64_t D, int64_t row_stride,
                             int64_t head_stride, float scale, int threads) {
    int64_t G = H / KV;
#pragma omp parallel num_threads(threads)
    {
        float *probs = scratch + (int64_t)omp_get_thread_num() * S * G;
#pragma omp for schedule(static)
        for (int64_t bj = 0; bj < B * KV; bj++) {
            int64_t b = bj / KV, j = bj % KV;
            const float *m = mask + b * S, *q0 = q + (b * H + j * G) * D;
            const float *kb = keys + b * row_stride + j * head_stride, *vb = values + b * row_stride + j * head_stride;
            int64_t s = 0;
            for (; s + 8 <= S; s += 8) {  /* 8 keys, every head of the group */
                const float *ks = kb + s * D;
                /* the cache comes from memory, cold: fetch the keys 8 blocks ahead, and this block's
                 * values into L2 for the weighted sum (16 rows, 95 slots, cold: about 270 -> 210 us a layer) */
                for (int64_t line = 0; line < 8 * D; line += 16) {
                    if (s + 72 <= S) _mm_prefetch((const char *)(ks + 64 * D + line), _MM_HINT_T0);
                    _mm_prefetch((const char *)(vb + s * D + line), _MM_HINT_T1);
                }
                for (int64_t g = 0; g < G; g++) {
                    __m256 dots[8];
                    for (int i = 0; i < 8; i++) dots[i] = _mm256_setzero_ps();
                    for (int64_t d = 0; d < D; d += 8) {
                        __m256 qd = _mm256_loadu_ps(q0 + g * D + d);
                        for (int i = 0; i < 8; i++) dots[i] = _mm256_fmadd_ps(qd, _mm256_loadu_ps(ks + i * D + d), dots[i]);
                    }
                    _mm256_storeu_ps(probs + g * S + s, _mm256_fmadd_ps(hsum8x8(dots), _mm256_set1_ps(scale), _mm256_loadu_ps(m + s)));
                }
            }
            for (; s < S; s++)
                for (int64_t g = 0; g < G; g++) {
                    __m256 dot = _mm256_setzero_ps();
                    for (int64_t d = 0; d < D; d += 8) dot = _mm256_fmadd_ps(_mm256_loadu_ps(q0 + g * D + d), _mm256_loadu_ps(kb + s * D + d), dot);
                    probs[g * S + s] = hsum8(dot) * scale + m[s];
                }
            float inv[64];
            for (int64_t g = 0; g < G; g++) {  /* softmax in place */
                float *row = probs + g * S, top = -INFINITY, total = 0.0f;
                for (int64_t t = 0; t < S; t++) top = row[t] > top ? row[t] : top;
                if (top == -INFINITY) {  /* nothing visible */
                    for (int64_t t = 0; t < S; t++) row[t] = 0.0f;
                    inv[g] = 0.0f;
                    continue;
                }
                __m256 shift = _mm256_set1_ps(top), sum = _mm256_setzero_ps();
                int64_t t = 0;
                for (; t + 8 <= S; t += 8) {
                    __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(row + t), shift));
                    _mm256_storeu_ps(row + t, e);
                    sum = _mm256_add_ps(sum, e);
                }
                total = hsum8(sum);
                for (; t < S; t++) total += row[t] = expf(row[t] - top);
                inv[g] = 1.0f / total;
            }
            float *o = out + (b * H + j * G) * D;
            switch (G) {
            case 1: weigh_values(1, probs, S, vb, D, o, inv); break;
            case 2: weigh_values(2, probs, S, vb, D, o, inv); break;
            case 3: weigh_values(3, probs, S, vb, D, o, inv); break;
            case 4: weigh_values(4, probs, S, vb, D, o, inv); break;
            case 5: weigh_values(5, probs, S, vb, D, o, inv); break;
            case 6: weigh_values(6, probs, S, vb, D, o, inv); break;
            default:
                for (int64_t g = 0; g < G; g += 6) {  /* six heads at a time */
                    int64_t n = G - g < 6 ? G - g : 6;
                    if (n == 6) weigh_values(6, probs + g * S, S, vb, D, o + g * D, inv + g);
                    else for (int64_t h = 0; h < n; h++) weigh_values(1, probs + (g + h) * S, S, vb, D, o + (g + h) * D, inv + g + h);
                }
            }
        }
    }
}

/* out[r][f] = silu(x[r][f]) * x[r][F + f] for x = [gate | up] of shape [rows][2F]: the SwiGLU middle. */
void exaone_silu_mul(const float *x, float *out, int64_t rows, int64_t F, int threads) {
#pragma omp parallel for schedule(static) num_threads(threads) if (rows * F >= 65536)
    for (int64_t r = 0; r < rows; r++) {
        const float *g = x + r * 2 * F, *u = g + F;
        float *o = out + r * F;
        int64_t f = 0;
        for (; f + 8 <= F; f += 8) {
            __m256 gv = _mm256_loadu_ps(g + f);
            __m256 sig = _mm256_div_ps(_mm256_set1_ps(1.0f), _mm256_add_ps(_mm256_set1_ps(1.0f), exp8(_mm256_sub_ps(_mm256_setzero_ps(), gv))));
            _mm256_storeu_ps(o + f, _mm256_mul_ps(_mm256_mul_ps(gv, sig), _mm256_loadu_ps(u + f)));
        }
        for (; f < F; f++) o[f] = g[f] / (1.0f + expf(-g[f])) * u[f];
    }
}

/* RMSNorm over rows of C floats, weight * x / sqrt(mean(x^2) + eps), with the residual add of the
 * layer fused in: mode 0 out = norm(x); mode 1 (pre-norm layers) sum = x + add, out = norm(sum);
 * mode 2 (post-norm layers) out = add + norm(x). */
void exaone_rms_norm(const float *x, const float *add, const float *weight, float *out, float *sum, int64_t rows,
                     int64_t C, float eps, int mode, int threads) {
#pragma omp parallel for schedule(static) num_threads(threads) if (rows * C >= 65536)
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * C, *ar = add ? add + r * C : 0;
        float *orow = out + r * C;
        if (mode == 1) {
            float *srow = sum + r * C;
            for (int64_t c = 0; c < C; c++) srow[c] = xr[c] + ar[c];
            xr = srow;
        }
        __m256 squares = _mm256_setzero_ps();  /* x^2 rounded, then summed: as torch's pow + mean */
        int64_t c = 0;
        for (; c + 8 <= C; c += 8) {
            __m256 v = _mm256_loadu_ps(xr + c);
            squares = _mm256_add_ps(squares, _mm256_mul_ps(v, v));
        }
        float total = hsum8(squares);
        for (; c < C; c++) total += xr[c] * xr[c];
        float inv = 1.0f / sqrtf(total / (float)C + eps);
        for (c = 0; c < C; c++) {
            float normed = weight[c] * (xr[c] * inv);
            orow[c] = mode == 2 ? ar[c] + normed : normed;
        }
    }
}
