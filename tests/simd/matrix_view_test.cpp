#include <doctest/doctest.h>

#include <vector>

#include "marl_rec/simd/matrix_view.hpp"

namespace mr = marl_rec;

TEST_CASE("MatrixView exposes rows of a padded row-major matrix") {
  std::vector<float> data = {1, 2, 3, -1, 4, 5, 6, -1};  // 2 x 3, stride 4
  const mr::MatrixView m(data, 2, 3, 4);
  CHECK(m.rows() == 2);
  CHECK(m.cols() == 3);
  CHECK(m.stride() == 4);
  CHECK_FALSE(m.empty());
  CHECK(m.row(1).size() == 3);
  CHECK(m.row(1)[0] == 4);
  CHECK(m.row(1)[2] == 6);
  // The last row needs no padding after it.
  std::vector<float> tight = {1, 2, 3, -1, 4, 5, 6};
  CHECK_NOTHROW(mr::MatrixView(tight, 2, 3, 4));
}

TEST_CASE("MatrixView rejects shapes its storage cannot hold") {
  std::vector<float> data(5);
  CHECK_THROWS_WITH_AS(mr::MatrixView(data, 2, 3),
                       "MatrixView: 2 x 3 (stride 3) needs 6 floats, the storage has 5", mr::Error);
  CHECK_THROWS_WITH_AS(mr::MatrixView(data, 1, 3, 2),
                       "MatrixView: stride 2 is smaller than cols 3", mr::Error);
  CHECK_NOTHROW(mr::MatrixView(data, 0, 3));
  // A forged shape whose size wraps around size_t is refused, not accepted over 0 floats.
  std::vector<float> empty;
  CHECK_THROWS_WITH_AS(mr::MatrixView(empty, std::size_t{1} << 62, 4, 4),
                       doctest::Contains("overflows size_t"), mr::Error);
  CHECK(mr::MatrixView().empty());
}

TEST_CASE("a MutableMatrixView converts to a MatrixView and writes through") {
  std::vector<float> data(6, 0.0f);
  const mr::MutableMatrixView w(data, 2, 3);
  w.row(1)[2] = 9.0f;
  const mr::MatrixView r = w;
  CHECK(r.row(1)[2] == 9.0f);
  CHECK(data[5] == 9.0f);
}
