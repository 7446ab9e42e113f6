// The reference Worker: the least a Worker can do per request, served by the same workerd and the
// same sockets as Tally, so that the ratio of the two is the cost of Tally's own work.
export default {
  fetch() {
    return new Response('Hello World!');
  },
};
