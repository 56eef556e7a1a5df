// Stand-in for ankerl/unordered_dense.h (martinus/unordered_dense), which
// Debian bookworm does not package and which we cannot download.
//
// mediasoup only uses ankerl::unordered_dense::{map,set,hash} with the
// std::unordered_{map,set} subset of the API (find/emplace/erase/contains/...),
// so aliasing them to the standard containers is behaviourally equivalent.
// Differences that do not matter here: iteration order, and std::hash being
// weaker (identity for integers) than ankerl's wyhash.
#ifndef CALLING_SERVICE_ANKERL_UNORDERED_DENSE_SHIM_H
#define CALLING_SERVICE_ANKERL_UNORDERED_DENSE_SHIM_H

#include <functional>
#include <memory>
#include <unordered_map>
#include <unordered_set>
#include <utility>

namespace ankerl::unordered_dense
{
	template<class T, class Enable = void>
	struct hash : std::hash<T>
	{
	};

	template<
	  class Key,
	  class T,
	  class Hash      = hash<Key>,
	  class KeyEqual  = std::equal_to<Key>,
	  class Allocator = std::allocator<std::pair<const Key, T>>>
	using map = std::unordered_map<Key, T, Hash, KeyEqual, Allocator>;

	template<
	  class Key,
	  class Hash      = hash<Key>,
	  class KeyEqual  = std::equal_to<Key>,
	  class Allocator = std::allocator<Key>>
	using set = std::unordered_set<Key, Hash, KeyEqual, Allocator>;
} // namespace ankerl::unordered_dense

#endif
