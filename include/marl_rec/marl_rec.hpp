// marl_rec — the umbrella header: include this one to get the whole library.
//
// marl_rec is a header-only C++20 library for recommending items and learning from user
// feedback online, in a game or e-commerce engine. See README.md and docs/.
#pragma once

#include "marl_rec/version.hpp"

#include "marl_rec/core/catalog.hpp"
#include "marl_rec/core/context.hpp"
#include "marl_rec/core/decision.hpp"
#include "marl_rec/core/error.hpp"
#include "marl_rec/core/id_map.hpp"
#include "marl_rec/core/interactions.hpp"
#include "marl_rec/core/logged_decision.hpp"
#include "marl_rec/core/rng.hpp"

#include "marl_rec/concepts/batch_recommender.hpp"
#include "marl_rec/concepts/embedder.hpp"
#include "marl_rec/concepts/explorer.hpp"
#include "marl_rec/concepts/model.hpp"

#include "marl_rec/embed/cached_embedder.hpp"
#include "marl_rec/embed/catalog_builder.hpp"
#include "marl_rec/embed/hashing_embedder.hpp"
#include "marl_rec/embed/item2vec.hpp"
#include "marl_rec/embed/precomputed_embedder.hpp"
#include "marl_rec/embed/sequence_encoder.hpp"
#include "marl_rec/embed/text_tokens.hpp"
#include "marl_rec/embed/word_vector_embedder.hpp"

#include "marl_rec/io/csv.hpp"
#include "marl_rec/io/csv_writer.hpp"
#include "marl_rec/io/fvecs.hpp"
#include "marl_rec/io/interactions_csv.hpp"
#include "marl_rec/io/items_csv.hpp"
#include "marl_rec/io/mapped_file.hpp"
#include "marl_rec/io/model_stream.hpp"
#include "marl_rec/io/npy.hpp"
#include "marl_rec/io/obd.hpp"
#include "marl_rec/io/read_report.hpp"
#include "marl_rec/io/timestamp.hpp"

#include "marl_rec/models/ease.hpp"
#include "marl_rec/models/feature_map.hpp"
#include "marl_rec/models/item2vec_recommender.hpp"
#include "marl_rec/models/item_knn.hpp"
#include "marl_rec/models/lin_thompson.hpp"
#include "marl_rec/models/lin_ucb.hpp"
#include "marl_rec/models/linear_q.hpp"
#include "marl_rec/models/matrix_factorization.hpp"
#include "marl_rec/models/mlp_scorer.hpp"
#include "marl_rec/models/most_popular.hpp"
#include "marl_rec/models/random_recommender.hpp"
#include "marl_rec/models/tabular_q.hpp"

#include "marl_rec/explore/default_explorer.hpp"
#include "marl_rec/explore/epsilon_greedy.hpp"
#include "marl_rec/explore/greedy.hpp"
#include "marl_rec/explore/softmax.hpp"
#include "marl_rec/explore/thompson.hpp"
#include "marl_rec/explore/ucb.hpp"

#include "marl_rec/agent/agent.hpp"

#include "marl_rec/eval/any_batch_recommender.hpp"
#include "marl_rec/eval/batch_recommend.hpp"
#include "marl_rec/eval/grid_search.hpp"
#include "marl_rec/eval/metrics.hpp"
#include "marl_rec/eval/off_policy.hpp"
#include "marl_rec/eval/simulator.hpp"
#include "marl_rec/eval/split.hpp"

#include "marl_rec/simd/aligned_vector.hpp"
#include "marl_rec/simd/kernels.hpp"
#include "marl_rec/simd/matrix_view.hpp"
#include "marl_rec/simd/reference.hpp"
#include "marl_rec/simd/top_k.hpp"
#include "marl_rec/simd/xsimd_compat.hpp"
